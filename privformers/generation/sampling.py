"""Choosing the next token from secret logits: secure argmax, or (opt-in) logits revealed to the client."""

from __future__ import annotations

import torch

from privformers.mpc.party import CLIENT
from privformers.mpc.protocols.inputs import reveal_to
from privformers.mpc.protocols.open import open_to
from privformers.mpc.protocols.select import argmax
from privformers.mpc.shares import AShare


def greedy_tokens(logits: AShare, bits: int = 48) -> list[int] | None:
    """Per row of secret logits (n, vocab), the index of its maximum, revealed to the client only
    (None elsewhere): one batched argmax and one opening for all rows.

    The one-hot from ``argmax`` becomes an index share locally (sum of one-hot times 0..n-1), so
    opening it costs 8 bytes per row; the server learns nothing."""
    p = logits.party
    onehot = argmax(logits, dim=-1, bits=bits)
    positions = torch.arange(onehot.shape[-1], device=onehot.data.device)
    opened = open_to(AShare(p, (onehot.data * positions).sum(-1)), CLIENT)
    if opened is None or p.symbolic:
        return None
    return [int(t) for t in opened]


def revealed_tokens(logits: AShare) -> list[int] | None:
    """Reveal the rows of logits (n, vocab) to the client, who takes each row's argmax (None elsewhere).

    Leaks to the client the model's full next-token logits (hence distribution) at every step,
    far more than the chosen tokens: it helps a client distil or fingerprint the server's model."""
    plain = reveal_to(logits, CLIENT)
    return None if plain is None else plain.argmax(-1).tolist()
