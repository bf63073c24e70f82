"""Exact truncation (division by 2^k) of shared fixed-point values, with a dealer.

CrypTen's local truncation fails with probability about |x|/2^63 per element, which shows at
high precision. Here the parties open c = x + 2^62 + r for a dealer mask r and remove the
known wrap-around: with x' = x + 2^62 in [0, 2^63), x' wraps mod 2^64 exactly when r's top bit
is 1 and c's is 0. The dealer shares r >> k and msb(r), so the result is floor(x / 2^k) or
one more, for every |x| < 2^62: it never fails.
Cost: 8 bytes per element per party, 1 round; offline 16 bytes per element to the server.
"""

from __future__ import annotations

from privformers.mpc.material import correlated
from privformers.mpc.protocols.open import open_
from privformers.mpc.ring import RING_BITS, logical_rshift, msb
from privformers.mpc.shares import AShare

OFFSET_BITS = 62


def trunc(x: AShare, k: int | None = None) -> AShare:
    """Shares of floor(x / 2^k) (+1 at most), k defaulting to the party's fractional bits."""
    p = x.party
    k = p.fp.frac_bits if k is None else k
    if not 1 <= k < OFFSET_BITS:
        raise ValueError(f"truncation by {k} bits is out of range")
    (r,), (r_hi, r_msb) = correlated(p, [x.shape], lambda rs: [logical_rshift(rs[0], k), msb(rs[0])])
    c = open_((x + r).add_public(1 << OFFSET_BITS))
    not_cm = 1 - msb(c)
    out = r_msb.mul_public(not_cm << (RING_BITS - k)) - r_hi
    return out.add_public(logical_rshift(c, k) - (1 << (OFFSET_BITS - k)))
