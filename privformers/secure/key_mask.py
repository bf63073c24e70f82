"""A secret key mask for padded batches: which key positions hold real tokens, known to the client only.

Prompts of different lengths share a pass when each is left-padded to the batch's longest; a
public attention mask would tell the server every prompt's length. Instead the client secret-shares
a 0/1 keep-mask K (rows, keys) at no cost (``share_input``: the server's share comes from their
common stream), and the secure softmax (``secure/ops/softmax.py``) replaces each score s by
K (s + L) - L while ``secret_key_mask(K)`` is active: padded keys get exactly -L, real keys keep s.

Why a product and not an added bias: the engine's exp is accurate on [-500, 0] and wrong below (it
returns about 1 at -512), so masked entries must land at a known distance below the row's maximum.
With L = 256 and attention scores in [-200, 200] (the domain of this mask), a masked entry sits
56 to 456 below the maximum and its exponential is below 2^-16, i.e. 0. Every row keeps at least
one real key (its own position), so the maximum is a real score.
Cost: one secret product per score: 1 round and 16 bytes per score element per party (a decode
step of an 8-row batch over 40 keys and 4 heads: 20 KB per layer).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from privformers.mpc.protocols.beaver import mul
from privformers.mpc.shares import AShare

MASKED_SCORE = 256.0
_local = threading.local()   # parties may be threads of one process


@contextmanager
def secret_key_mask(keep: AShare | None) -> Iterator[None]:
    """While active, attention softmaxes whose last dimension has ``keep.shape[-1]`` keys apply
    keep (shares of 0/1 integers, shape (rows, keys)) to their scores. None: no mask."""
    previous = getattr(_local, "keep", None)
    _local.keep = keep
    try:
        yield
    finally:
        _local.keep = previous


def current_key_mask() -> AShare | None:
    """The active secret key mask of this thread, if any."""
    return getattr(_local, "keep", None)


def apply_key_mask(scores: AShare, keep: AShare) -> AShare:
    """K (s + L) - L for scores (rows, ..., keys) and keep (rows, keys): masked keys get exactly -L."""
    if scores.shape[0] != keep.shape[0] or scores.shape[-1] != keep.shape[-1]:
        raise ValueError(f"secret key mask of shape {tuple(keep.shape)} does not fit attention scores of shape "
                         f"{tuple(scores.shape)}")
    view = [keep.shape[0]] + [1] * (scores.dim() - 2) + [keep.shape[-1]]
    k = AShare(keep.party, keep.data.reshape(view).expand(scores.shape).contiguous())
    low = int(scores.party.fp.encode(MASKED_SCORE))
    return mul(k, scores.add_public(low), truncate=False).add_public(-low)
