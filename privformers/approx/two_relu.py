"""MPCFormer's 2ReLU softmax: p_i = relu(x_i) / sum_j relu(x_j) over kept positions.

Masked positions get probability 0; a row with no positive score gets all zeros (not 0/0).
Under MPC: one comparison per entry and one reciprocal per row.
"""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

TINY = 1e-12


@overridable
def two_relu_softmax(scores: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """relu(x) normalised by its sum over the last dimension; keep (bool, broadcastable) zeroes entries."""
    r = torch.relu(scores)
    if keep is not None:
        r = r * keep
    return r / r.sum(-1, keepdim=True).clamp_min(TINY)


class TwoReLUSoftmax(nn.Module):
    """Attention softmax replacement: ``two_relu_softmax(scores, keep)``."""

    def forward(self, scores: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return two_relu_softmax(scores, keep)
