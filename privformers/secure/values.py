"""Turning op arguments into shares: secrets as they are, server weights as server-only shares,
public tensors and scalars encoded when needed."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_flatten

from privformers.mpc.party import SERVER, Party, placeholder
from privformers.mpc.shares import AShare
from privformers.secure.tensor import SecretTensor, ServerParam

MASK_BELOW = -1e4  # additive attention-mask entries below this are "masked out" (probability 0)


def party_of(*values: Any) -> Party:
    """The party of the first secret or server weight among the (nested) values."""
    leaves, _ = tree_flatten(values)
    for v in leaves:
        if isinstance(v, (SecretTensor, ServerParam)):
            return v.party
    raise ValueError("no secret value among the arguments")


def is_secret(v: Any) -> bool:
    return isinstance(v, (SecretTensor, ServerParam))


def server_share(party: Party, plain: torch.Tensor | None, shape: tuple[int, ...]) -> AShare:
    """Shares of a value only the server knows: the server's share is the value, the client's is 0."""
    if party.symbolic:
        return AShare(party, placeholder(shape))
    if party.role == SERVER:
        return AShare(party, party.fp.encode(plain.detach()))
    return AShare(party, torch.zeros(shape, dtype=torch.int64))


def as_share(v: SecretTensor | ServerParam) -> AShare:
    """This party's share of a secret or of a server weight."""
    if isinstance(v, SecretTensor):
        return v.share
    return server_share(v.party, v.plain, tuple(v.shape))


def secret(share: AShare, mask: torch.Tensor | None = None, pending: int = 0, scope: str = "other") -> SecretTensor:
    """A SecretTensor; pending > 0 marks an untruncated product that ``scope`` will truncate when read."""
    return SecretTensor(share, mask, pending, scope)


def settle(*values: Any, keep: int = 0) -> None:
    """Truncate the pending secrets among values now, all in one round (``fused_mul`` without products),
    in place, down to ``keep`` pending bits: their later readers find them truncated (or at most ``keep``
    bits above the working scale, for a reader that folds those into its own truncation, as the held KV
    cache does). Cost: 8 bytes per element per party, 1 round, for the values above ``keep``; nothing when
    none is; charged to the first one's op class. (A KV cache settles a step's keys and values together.)"""
    from privformers.mpc.protocols.fused import Factor, fused_mul

    todo = [v for v in values if isinstance(v, SecretTensor) and v.pending > keep]
    if not todo:
        return
    with todo[0].party.meter.scope(todo[0].pending_scope):
        truncated, _, _ = fused_mul([Factor(v.raw, v.pending - keep) for v in todo])
    for v, t in zip(todo, truncated):
        v._share, v.pending = t, keep


def mask_of(*values: Any) -> torch.Tensor | None:
    """The combined keep-mask of the secrets among values (None when none carries one)."""
    masks = [v.mask for v in values if isinstance(v, SecretTensor) and v.mask is not None]
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = out & m
    return out


def encode_public(party: Party, value: torch.Tensor | float) -> torch.Tensor:
    """A public real (tensor or scalar) as a ring tensor at the party's scale."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to(torch.float64)
    return party.fp.encode(value)
