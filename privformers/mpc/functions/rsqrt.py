"""1/sqrt(x) for x in [2^lo, 2^hi], accurate in relative terms across the whole range.

One comparison round finds x's interval j (a quarter octave for a few elements, a whole octave with
coarse comparisons for many: ``octave.per_octave_for``); from those bits, public tables give
C_j = 4^(M - m_j) y_j^2 and Y_j = 2^(M - m_j) y_j, where 4^(m_j) <= x < 4^(m_j + 1), y_j is
1/sqrt of the interval's arithmetic middle over 4^(m_j) (in (1/2, 1]) and M the largest m_j. Then
u = x C / 4^M = x y0^2 (close to 1) and Newton's iteration runs on well-scaled values:
w <- w v, u <- u v^2 with v = (3 - u) / 2, starting from w = Y; w ends at 2^M / sqrt(x).
Each step opens u (and w) once with ``fused_mul``; u v^2 is a local cubic of the opened u, so
a step is one round. With e = 1 - u, a step maps e to 3e^2/4 + e^3/4, and the steps go on until e
is below ``TARGET_ERROR``: from quarter octaves (e < 0.087) 3 steps reach 4e-10; from whole octaves
compared coarsely (e < 0.42) 4 steps reach 4e-8.
Cost: 1 comparison round + 1 product + 1 round per step; the result comes out untruncated.
"""

from __future__ import annotations

import math

import torch

from privformers.mpc.functions.octave import interval_bits, interval_table, is_coarse, middle, per_octave_for, steps_for
from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.fused import Factor, fused_mul
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare

TARGET_ERROR = 1e-6  # relative error before fixed-point rounding (LayerNorm scales every output by it)


def _newton_error(e: float) -> float:
    return 0.75 * e * e + 0.25 * e**3


def rsqrt_raw(x: AShare, lo: int = -12, hi: int = 16, iterations: int | None = None,
              scale: float = 1.0, pending: int = 0) -> tuple[AShare, int]:
    """(shares of scale / sqrt(x) at scale 2^(f + k), k) for x in [2^lo, 2^hi].

    iterations: None picks the fewest that reach ``TARGET_ERROR`` from the guess.
    pending: x is a product not yet truncated (scale 2^(f + pending)). The comparison reads it as it
    is, and its truncation shares the round of the first product (``fused_mul``), so a truncated
    input costs one round fewer than ``trunc`` followed by this function."""
    per_octave = per_octave_for(x.numel(), hi - lo)
    if iterations is None:
        iterations = steps_for(per_octave, _newton_error, TARGET_ERROR)
    if not -30 <= lo < hi or hi < 2 or iterations < 1:
        raise ValueError(f"rsqrt domain [2^{lo}, 2^{hi}] unsupported (need -30 <= lo < hi, hi >= 2)")
    fp = x.party.fp
    f = fp.frac_bits
    n = round(per_octave * (hi - lo))
    starts = [lo + j / per_octave for j in range(n)]                 # log2 of each interval's start
    m_of = [math.floor(e / 2 + 1e-9) for e in starts]                # 4^m <= x
    big_m = max(m_of)
    mids = [middle(lo, j, per_octave) for j in range(n)]
    y_of = [(mid / 4.0**m) ** -0.5 for mid, m in zip(mids, m_of)]   # in (1/2, 1]
    below = interval_bits(x, lo, hi, per_octave, coarse=is_coarse(per_octave), pending=pending)
    c = interval_table(below, fp.encode(torch.tensor([4.0 ** (big_m - m) * y * y for m, y in zip(m_of, y_of)])))
    w = interval_table(below, fp.encode(torch.tensor([scale * 2.0 ** (big_m - m) * y for m, y in zip(m_of, y_of)])))
    if pending:   # trunc(x) * c in one round
        _, (u,), _ = fused_mul([Factor(x, pending), Factor(c)], [(0, 1)])
    else:
        u = mul(x, c, truncate=False)
    u_k = f + 2 * big_m                                             # u = x y0^2 at scale 2^(2f + 2M)
    w_k = 0
    half = 1 << (f - 1)
    for step in range(iterations):
        last = step == iterations - 1
        # open u' = u / 2 (truncating one more bit) so that v = 3/2 - u' has public-ring coefficients
        (u_t, w_t), (wu,), raised = fused_mul([Factor(u, u_k + 1), Factor(w, w_k)], [(1, 0)],
                                              None if last else {0: 3})
        w, w_k = w_t.mul_public(3 * half) - wu, f                  # w (3/2 - u'), scale 2f
        if not last:
            u2, u3 = raised[0]
            # u v^2 = 2 u' (3/2 - u')^2 = 9/2 u' - 6 u'^2 + 2 u'^3, at scale 3f
            u = u_t.mul_public(9 << (2 * f - 1)) - u2.mul_public(6 << f) + u3.lshift(1)
            u_k = 2 * f
    return w, w_k + big_m


def rsqrt(x: AShare, lo: int = -12, hi: int = 16, iterations: int | None = None) -> AShare:
    """Shares of x^(-1/2) for x in [2^lo, 2^hi]."""
    y, k = rsqrt_raw(x, lo, hi, iterations)
    return trunc(y, k)
