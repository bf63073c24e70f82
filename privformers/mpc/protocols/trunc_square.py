"""Truncate, then square, in one round: the opening of the truncation doubles as the Beaver
opening of the square.

After ``trunc`` opens c, the result is z = P + M_b with P public and M_b one of two values the
dealer knows (b = msb(c) is public). With shares of M_0^2 and M_1^2 from the dealer,
z^2 = P^2 + 2 P M_b + M_b^2 is local. Chains of squarings (exp) cost one round per squaring.
Cost: 8 bytes per element per party, 1 round; offline 32 bytes per element to the server.
"""

from __future__ import annotations

from privformers.mpc.material import correlated
from privformers.mpc.protocols.open import open_
from privformers.mpc.protocols.trunc import OFFSET_BITS
from privformers.mpc.ring import RING_BITS, logical_rshift, msb
from privformers.mpc.shares import AShare


def trunc_square(x: AShare, k: int) -> tuple[AShare, AShare]:
    """Shares of (z, z^2) where z = floor(x / 2^k) (+1 at most); z^2 is not truncated."""
    p = x.party

    def derive(rs):
        r = rs[0]
        hi, top = logical_rshift(r, k), msb(r)
        m0 = (top << (RING_BITS - k)) - hi  # M when msb(c) = 0
        m1 = -hi                            # M when msb(c) = 1
        return [hi, top, m0 * m0, m1 * m1]

    (r,), (r_hi, r_msb, m0_sq, m1_sq) = correlated(p, [x.shape], derive)
    c = open_((x + r).add_public(1 << OFFSET_BITS))
    cm = msb(c)
    public = logical_rshift(c, k) - (1 << (OFFSET_BITS - k))
    m = r_msb.mul_public((1 - cm) << (RING_BITS - k)) - r_hi
    m_sq = AShare(p, m0_sq.data * (1 - cm) + m1_sq.data * cm)
    z = m.add_public(public)
    z_sq = (m.mul_public(2 * public) + m_sq).add_public(public * public)
    return z, z_sq
