"""Turning a party's private tensor into shares, and shares into a result for one party."""

from __future__ import annotations

import torch

from privformers.mpc.party import CLIENT, SERVER, Party, placeholder
from privformers.mpc.protocols.open import open_to
from privformers.mpc.shares import AShare


def share_input(party: Party, owner: str, value: torch.Tensor | None, shape: tuple[int, ...],
                encode: bool = True) -> AShare:
    """Shares of the owner's tensor at no communication cost.

    The non-owner's share is drawn from the client-server stream, so the owner knows it and
    keeps value - share. value is ignored on non-owners and on shape-only passes.
    encode=False shares an integer tensor (e.g. a one-hot) as is.
    """
    if owner not in (CLIENT, SERVER):
        raise ValueError(f"inputs come from the client or the server, not {owner!r}")
    if party.symbolic:
        return AShare(party, placeholder(shape))
    r = party.prg[party.peer].ring(shape)
    if party.role != owner:
        return AShare(party, r)
    if value is None or tuple(value.shape) != tuple(shape):
        raise ValueError(f"{owner} input: expected shape {tuple(shape)}")
    v = party.fp.encode(value) if encode else value.to(torch.int64)
    return AShare(party, v - r)


def reveal_to(x: AShare, role: str) -> torch.Tensor | None:
    """Decode x for one party (None on the other and on shape-only passes)."""
    t = open_to(x, role)
    if t is None or x.party.symbolic:
        return None
    return x.party.fp.decode(t)
