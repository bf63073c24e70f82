"""nn.Embedding (token, type and learned position embeddings): G_W = sum_t onehot(id_t) (x) g_t.

Subclasses such as OPT's and BART's learned positional embeddings use the same rule; position
ids shared by the whole batch (shape (1, T)) are broadcast to every example.
"""

from __future__ import annotations

from torch import Tensor, nn

from privformers.dp.pieces import OuterPiece, Piece
from privformers.dp.registry import register_rule


@register_rule(nn.Embedding)
def embedding(module: nn.Embedding, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Weight as an outer-product piece with one-hot (index) rows."""
    if activation.dim() + 1 != grad.dim():
        raise ValueError("embedding gradient must have one more dimension than its ids")
    batch, dim = grad.shape[0], grad.shape[-1]
    ids = activation
    if ids.shape[0] != batch:
        if ids.shape[0] != 1:
            raise ValueError(f"embedding ids batch {ids.shape[0]} does not match gradient batch {batch}")
        ids = ids.expand(batch, *ids.shape[1:])
    ids = ids.reshape(batch, -1)
    if module.padding_idx is not None:
        # the padding row gets no gradient in torch; route it to a row we then drop is costly,
        # so zero the gradient at padding positions instead (same effect on the padding row).
        grad = grad * (activation != module.padding_idx).unsqueeze(-1).expand_as(grad).to(grad.dtype)
    g = grad.reshape(batch, -1, dim)
    return {"weight": OuterPiece(ids, g, module.weight.shape, left_size=module.num_embeddings)}
