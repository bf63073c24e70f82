"""Shape helpers shared by the rules."""

from __future__ import annotations

from torch import Tensor


def as_sequence(x: Tensor, batch: int) -> Tensor:
    """View a batch-first tensor as (B, T, features), expanding a batch of one over ``batch``."""
    if x.shape[0] != batch:
        if x.shape[0] != 1:
            raise ValueError(f"activation batch {x.shape[0]} does not match gradient batch {batch}")
        x = x.expand(batch, *x.shape[1:])
    if x.dim() == 1:
        return x.reshape(batch, 1, 1)
    if x.dim() == 2:
        return x.unsqueeze(1)
    return x.reshape(batch, -1, x.shape[-1])
