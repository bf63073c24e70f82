"""1/sqrt(x) for x in [2^lo, 2^hi], accurate in relative terms across the whole range.

One comparison round finds x's half-octave interval. From those bits, public combinations give
(a) the power of four 4^m below x, used to normalise x' = x / 4^m into [1, 4) (one product);
(b) a starting guess for 1/sqrt(x') within 2^(1/8); (c) the scale 2^-m of the answer.
Newton y <- y (3 - x' y^2) / 2 then runs on well-scaled values (3 iterations: relative error
below 1e-6 before rounding), and one last product rescales. Normalising first matters: on raw
large x, y^2 would fall to a few units of 2^-f and the iteration would lose all precision.
Cost: 1 comparison round + 2 products for scaling + 3 x 3 products.
"""

from __future__ import annotations

import math

from privformers.mpc.protocols.beaver import mul, square
from privformers.mpc.protocols.compare import ltz
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare, stack

ITERATIONS = 3


def _interval_sum(below: AShare, values: list[int]) -> AShare:
    """sum_j [x in interval j] values[j] from the bits below[j-1] = [x < t_j] (local)."""
    out = None
    for j in range(1, len(values)):
        term = below[j - 1].mul_public(values[j - 1] - values[j])  # adds step once x >= t_j
        out = term if out is None else out + term
    return out.add_public(values[-1])


def rsqrt(x: AShare, lo: int = -12, hi: int = 16, iterations: int = ITERATIONS) -> AShare:
    """Shares of x^(-1/2) for x in [2^lo, 2^hi]."""
    if not -30 <= lo < hi or hi < 2:
        raise ValueError(f"rsqrt domain [2^{lo}, 2^{hi}] unsupported (need -30 <= lo < hi, hi >= 2)")
    fp = x.party.fp
    f = fp.frac_bits
    if lo % 2:
        lo -= 1
    n = 2 * (hi - lo)  # half-octave intervals [2^(lo + j/2), 2^(lo + (j+1)/2))
    edges = [lo + j / 2 for j in range(n + 1)]
    below = ltz(stack([x.add_public(-int(fp.encode(2.0 ** e))) for e in edges[1:-1]]), hi + f + 3)
    m_of = [math.floor(edges[j] / 2) for j in range(n)]  # x in [4^m, 4^(m+1))
    m_max = max(m_of)
    norm = _interval_sum(below, [1 << (2 * (m_max - m)) for m in m_of])        # 4^(m_max - m)
    guess = _interval_sum(below, [int(fp.encode(2.0 ** (-(edges[j] + 0.25 - 2 * m_of[j]) / 2)))
                                  for j in range(n)])
    scale = _interval_sum(below, [1 << (m_max - m) for m in m_of])            # 2^(m_max - m)
    xn = trunc(mul(x, norm, truncate=False), 2 * m_max) if m_max > 0 else mul(x, norm, truncate=False)
    y = guess
    three = int(fp.encode(3.0))
    for _ in range(iterations):
        t = (-mul(xn, square(y))).add_public(three)
        y = trunc(mul(y, t, truncate=False), f + 1)
    out = mul(y, scale, truncate=False)
    return trunc(out, m_max) if m_max > 0 else out
