"""Hugging Face Conv1D (GPT-2): y = x W + b with W of shape (in, out), so G_W = sum_t x_t (x) g_t."""

from __future__ import annotations

from torch import Tensor
from transformers.pytorch_utils import Conv1D

from privformers.dp.pieces import DensePiece, OuterPiece, Piece
from privformers.dp.registry import register_rule
from privformers.dp.rules._shapes import as_sequence


@register_rule(Conv1D)
def conv1d(module: Conv1D, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Weight as an outer-product piece (x, g); bias as summed output gradients."""
    g = as_sequence(grad, grad.shape[0])
    x = as_sequence(activation, grad.shape[0])
    return {"weight": OuterPiece(x, g, module.weight.shape), "bias": DensePiece(g.sum(dim=1))}
