"""THE-X's LayerNorm replacement: a learned per-feature affine map x * weight + bias (no statistics).

Initialised from the replaced norm's gamma and beta (zero bias for RMS norms such as T5's), so a
distillation run starts from the teacher's affine parameters; under MPC it costs one product with
a server weight instead of a mean, a variance and an inverse square root.
"""

from __future__ import annotations

import torch
from torch import nn


class AffineLayerNorm(nn.Module):
    """y = x * weight + bias over the last dimension."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    @classmethod
    def from_norm(cls, norm: nn.Module) -> AffineLayerNorm:
        """An affine map with the norm's gamma (and beta when it has one)."""
        weight = getattr(norm, "weight", None)
        if weight is None or weight.dim() != 1:
            raise ValueError(f"cannot replace {type(norm).__name__}: expected a 1-d elementwise weight")
        out = cls(weight.shape[0])
        with torch.no_grad():
            out.weight.copy_(weight)
            bias = getattr(norm, "bias", None)
            if bias is not None:
                out.bias.copy_(bias)
        return out.to(weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias
