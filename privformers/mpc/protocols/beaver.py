"""Products of two secret-shared tensors with dealer (Beaver) triples.

mul, square and matmul open the masked operands in one round and finish locally; by default
the product is then truncated back to the fixed-point scale (one more round).
Cost: mul 16 bytes per element per party (8 for square), 1 round, + truncation.
"""

from __future__ import annotations

import torch

from privformers.mpc.material import correlated
from privformers.mpc.protocols.open import open_, open_many
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.ringmath import limb_split, ring_matmul
from privformers.mpc.shares import AShare


def mul(x: AShare, y: AShare, truncate: bool = True) -> AShare:
    """Elementwise product (broadcasting). Pass truncate=False when one factor is an integer (a bit)."""
    (a, b), (c,) = correlated(x.party, [x.shape, y.shape], lambda r: [r[0] * r[1]])
    e, f = open_many([x - a, y - b])
    z = (c + b.mul_public(e) + a.mul_public(f)).add_public(e * f)
    return trunc(z) if truncate else z


def square(x: AShare, truncate: bool = True) -> AShare:
    """Elementwise square with a (a, a^2) pair: one opening instead of two."""
    (a,), (a2,) = correlated(x.party, [x.shape], lambda r: [r[0] * r[0]])
    e = open_(x - a)
    z = (a2 + a.mul_public(2 * e)).add_public(e * e)
    return trunc(z) if truncate else z


def matmul(x: AShare, y: AShare, truncate: bool = True) -> AShare:
    """Batched matrix product x @ y of two shared tensors (torch.matmul broadcasting).

    x y = e f + e b + a f + c with e = x - a, f = y - b public: each party forms e (b_i + f) + a_i f
    (f added by the client only), two local products instead of three; for a narrow contracted width
    (attention scores), as one product [e | a_i] @ [b_i + f ; f] over twice the width."""
    (a, b), (c,) = correlated(x.party, [x.shape, y.shape], lambda r: [ring_matmul(r[0], r[1])])
    e, f = open_many([x - a, y - b])
    bf = b.add_public(f).data
    k = x.shape[-1]
    narrow = x.dim() >= 2 and y.dim() >= 2 and k < min(x.shape[-2], y.shape[-1])   # output-heavy: one product wins
    if narrow and limb_split(2 * k)[1] == limb_split(k)[1]:
        z = AShare(x.party, c.data + ring_matmul(torch.cat([e, a.data], -1), torch.cat([bf, f], -2)))
    else:
        z = AShare(x.party, c.data + ring_matmul(e, bf) + ring_matmul(a.data, f))
    return trunc(z) if truncate else z


def mul_bit(bit: AShare, x: AShare) -> AShare:
    """bit * x for an integer 0/1 share (no truncation needed)."""
    return mul(bit, x, truncate=False)

