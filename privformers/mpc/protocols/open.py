"""Opening (revealing) shared values: to both computing parties, or to one of them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.mpc.party import meta_like
from privformers.mpc.shares import AShare


def open_(x: AShare) -> torch.Tensor:
    """Reveal x to both computing parties. Cost: 8 bytes per element per party, 1 round."""
    p = x.party
    if p.symbolic:
        return meta_like(x.data)
    return x.data + p.exchange(x.data.contiguous())


def open_many(xs: Sequence[AShare]) -> list[torch.Tensor]:
    """Reveal several shares in one round (one message each way)."""
    p = xs[0].party
    if p.symbolic:
        return [meta_like(x.data) for x in xs]
    flat = torch.cat([x.data.reshape(-1) for x in xs])
    total = flat + p.exchange(flat)
    return [t.reshape(x.shape) for t, x in zip(total.split([x.numel() for x in xs]), xs)]


def open_to(x: AShare, role: str) -> torch.Tensor | None:
    """Reveal x to one computing party only; the other gets None. Cost: 1 one-way message."""
    p = x.party
    if p.symbolic:
        return meta_like(x.data) if p.role == role else None
    p.meter.add_round()
    if p.role == role:
        return x.data + p.recv_tensor(p.peer)
    p.send(role, x.data.contiguous())
    return None
