"""Shares that are right only mod 2^32, made right mod 2^64 in one round of 4-byte messages.

Some products need only the low 32 bits (a one-hot row lookup whose result is small): computing
them mod 2^32 halves their traffic and their float64 work. Their shares x_c + x_s equal v mod 2^32,
with |v| < 2^30. With v' = v + 2^30 in [0, 2^31) and a dealer mask r uniform mod 2^32, the parties
open c = v' + r mod 2^32; v' + r wrapped past 2^32 exactly when bit 31 of r is 1 and bit 31 of c
is 0 (as in ``trunc``), so v' = c - r + 2^32 bit31(r) (1 - bit31(c)), linear in the dealer's
shares of r and bit31(r). c is uniform whatever v is.
Cost: 4 bytes per element per party, 1 round; offline 16 bytes per element to the server.
"""

from __future__ import annotations

import torch

from privformers.mpc.material import correlated
from privformers.mpc.party import meta_like
from privformers.mpc.shares import AShare

LOW_BITS = 32
MASK32 = (1 << LOW_BITS) - 1
LIFT_RANGE = 1 << 30   # |v| below this


def to_int32(x: torch.Tensor) -> torch.Tensor:
    """The low 32 bits of int64 x as int32 (two's complement), for 4-byte messages."""
    return (((x + (1 << 31)) & MASK32) - (1 << 31)).to(torch.int32)


def exchange32(x: AShare) -> torch.Tensor:
    """Open x mod 2^32 to both computing parties: x_c + x_s mod 2^32, in [0, 2^32)."""
    p = x.party
    if p.symbolic:
        return meta_like(x.data)
    other = p.exchange(to_int32(x.data).contiguous())
    if other.dtype != torch.int32:
        raise ValueError(f"{p.peer} sent {other.dtype} where a 32-bit opening was expected")
    return (x.data + other.to(torch.int64)) & MASK32


def lift32(x: AShare) -> AShare:
    """Shares of v mod 2^64 from shares of v mod 2^32, for |v| < 2^30."""
    p = x.party
    (_,), (r_low, r_bit) = correlated(p, [x.shape], lambda rs: [rs[0] & MASK32, (rs[0] >> 31) & 1])
    c = exchange32((x + r_low).add_public(LIFT_RANGE))
    no_top = 1 - (c >> 31)
    return (r_bit.mul_public(no_top << LOW_BITS) - r_low).add_public(c - LIFT_RANGE)
