"""MPCFormer's 2Quad softmax: p_i = (x_i + c)^2 / sum_j (x_j + c)^2 over kept positions (c = 5).

Masked positions get probability 0. Under MPC: one square, a local sum and one reciprocal per
row, instead of a maximum, an exponential and a reciprocal.
"""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

C = 5.0
TINY = 1e-12  # only rows whose every entry is masked have sum 0; they get probabilities 0


@overridable
def two_quad_softmax(scores: torch.Tensor, keep: torch.Tensor | None = None, c: float = C) -> torch.Tensor:
    """(x + c)^2 normalised by its sum over the last dimension; keep (bool, broadcastable) zeroes entries."""
    q = (scores + c) ** 2
    if keep is not None:
        q = q * keep
    return q / q.sum(-1, keepdim=True).clamp_min(TINY)


class TwoQuadSoftmax(nn.Module):
    """Attention softmax replacement: ``two_quad_softmax(scores, keep, c)``."""

    def __init__(self, c: float = C) -> None:
        super().__init__()
        self.c = c

    def forward(self, scores: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return two_quad_softmax(scores, keep, self.c)

    def extra_repr(self) -> str:
        return f"c={self.c}"
