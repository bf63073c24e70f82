"""nn.Conv2d (ViT patch embeddings): unfold the input into patches, then it is a linear layer.

G_W = sum_l g_l (x) patch_l over output locations l; G_b = sum_l g_l.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from privformers.dp.pieces import DensePiece, OuterPiece, Piece
from privformers.dp.registry import register_rule


@register_rule(nn.Conv2d)
def conv2d(module: nn.Conv2d, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Weight as an outer-product piece (g per location, unfolded patch); bias summed."""
    if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise ValueError("Conv2d rule supports groups=1, zero padding given as numbers")
    patches = F.unfold(activation, module.kernel_size, module.dilation, module.padding, module.stride)
    g = grad.flatten(2).transpose(1, 2)  # (B, L, out)
    pieces: dict[str, Piece] = {"weight": OuterPiece(g, patches.transpose(1, 2), module.weight.shape)}
    if module.bias is not None:
        pieces["bias"] = DensePiece(g.sum(dim=1))
    return pieces
