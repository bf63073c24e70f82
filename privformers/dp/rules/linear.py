"""nn.Linear: y = x W^T + b, so G_W = sum_t g_t (x) x_t and G_b = sum_t g_t."""

from __future__ import annotations

from torch import Tensor, nn

from privformers.dp.pieces import DensePiece, OuterPiece, Piece
from privformers.dp.registry import register_rule
from privformers.dp.rules._shapes import as_sequence


@register_rule(nn.Linear)
def linear(module: nn.Linear, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Weight as an outer-product piece (g, x); bias as summed output gradients."""
    g = as_sequence(grad, grad.shape[0])
    x = as_sequence(activation, grad.shape[0])
    pieces: dict[str, Piece] = {"weight": OuterPiece(g, x, module.weight.shape)}
    if module.bias is not None:
        pieces["bias"] = DensePiece(g.sum(dim=1))
    return pieces
