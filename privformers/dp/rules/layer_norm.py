"""nn.LayerNorm: y = xhat * w + b with xhat = (x - mean) / sqrt(var + eps) over the last dims.

G_w = sum_t g_t * xhat_t and G_b = sum_t g_t (per example).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from privformers.dp.pieces import DensePiece, Piece
from privformers.dp.registry import register_rule


@register_rule(nn.LayerNorm)
def layer_norm(module: nn.LayerNorm, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Scale and shift as dense per-example pieces."""
    batch = grad.shape[0]
    xhat = F.layer_norm(activation, module.normalized_shape, eps=module.eps)
    reduce_dims = tuple(range(1, grad.dim() - len(module.normalized_shape)))
    pieces: dict[str, Piece] = {}
    if module.weight is not None:
        scale = torch.sum(grad * xhat, dim=reduce_dims)
        pieces["weight"] = DensePiece(scale.reshape(batch, *module.weight.shape))
    if module.bias is not None:
        pieces["bias"] = DensePiece(torch.sum(grad, dim=reduce_dims).reshape(batch, *module.bias.shape))
    return pieces
