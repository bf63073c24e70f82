"""exp(x) for x <= 0 (the softmax case after subtracting the row maximum).

exp(x) = (1 + u + u^2/2)^(2^k) with u = x / 2^k, k = 8, computed at 30 fractional bits inside
(the values stay in (0, 1], so squares fit) and truncated back at the end.
Domain: [-500, 0] (below -500 the result is still in [0, 1] but not accurate).
Error: about 4e-6 from the approximation plus fixed-point rounding (measured in the tests).
Cost: 11 rounds, 8 bytes per element per round: the squarings reuse each truncation's opening
(``trunc_square``), so each costs one round instead of two.
"""

from __future__ import annotations

from privformers.mpc.protocols.beaver import square
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.trunc_square import trunc_square
from privformers.mpc.shares import AShare

SQUARINGS = 8
INNER_FRAC_BITS = 30


def exp(x: AShare, pending: int = 0) -> AShare:
    """Shares of exp(x) for x in [-500, 0]. pending: x is a product not yet truncated, at scale
    2^(f + pending) (e.g. a logit times a public 1/T): its truncation is folded into the first step."""
    f = x.party.fp.frac_bits
    fi = INNER_FRAC_BITS
    shift = fi - f - SQUARINGS - pending
    u = x.lshift(shift) if shift >= 0 else trunc(x, -shift)     # u = x / 2^k at fi bits
    y = (u + trunc(square(u, truncate=False), fi + 1)).add_public(1 << fi)  # 1 + u + u^2/2
    y_sq = square(y, truncate=False)
    for _ in range(SQUARINGS - 1):
        _, y_sq = trunc_square(y_sq, fi)
    return trunc(y_sq, fi + (fi - f))
