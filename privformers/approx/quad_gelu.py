"""MPCFormer's Quad GeLU: 0.125 x^2 + 0.25 x + 0.5, one square under MPC instead of a GeLU polynomial."""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

A2, A1, A0 = 0.125, 0.25, 0.5


@overridable
def quad_gelu(x: torch.Tensor) -> torch.Tensor:
    """0.125 x^2 + 0.25 x + 0.5 elementwise."""
    return A2 * x * x + A1 * x + A0


class QuadGELU(nn.Module):
    """Drop-in replacement for a GeLU (or ReLU) activation module: ``quad_gelu``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quad_gelu(x)
