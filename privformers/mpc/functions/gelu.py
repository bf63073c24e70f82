"""GeLU in its erf form: gelu(x) = x/2 + x erf(x / sqrt 2) / 2.

g(x) = x erf(x / sqrt 2) is even and smooth: on |x| < 4 it is a degree-6 polynomial in
w = x^2 / 16 (least-squares fit, computed at import from math.erf); outside, g(x) = |x| to
within 2.6e-4. Domain: all reals with |x| < 2^(40 - frac_bits); error <= 2.5e-3 on [-8, 8]
(measured in the tests; the target is 1e-2).
Cost: 1 comparison round (three batched comparisons), 1 bit product, a square, 3 power levels.
"""

from __future__ import annotations

import math

import numpy as np

from privformers.mpc.functions.poly import polynomial
from privformers.mpc.protocols.beaver import mul, square
from privformers.mpc.protocols.compare import ltz
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare, stack

T = 4.0
DEGREE = 6


def _fit() -> list[float]:
    xs = np.linspace(0.0, T, 4001)
    g = xs * np.array([math.erf(v / math.sqrt(2.0)) for v in xs])
    w = (xs / T) ** 2
    a = np.vstack([w**k for k in range(DEGREE + 1)]).T
    coeffs, *_ = np.linalg.lstsq(a, g, rcond=None)
    return [float(c) for c in coeffs]


COEFFS = _fit()


def gelu(x: AShare) -> AShare:
    """Shares of gelu(x) = x Phi(x)."""
    fp = x.party.fp
    t = int(fp.encode(T))
    bits = 40
    cmp = ltz(stack([x, x.add_public(-t), x.add_public(t)]), bits)  # [x<0], [x<T], [x<-T]
    neg, below_t, below_mt = cmp[0], cmp[1], cmp[2]
    inside = below_t - below_mt
    absx = x - mul(neg, x, truncate=False).lshift(1)
    w = trunc(square(x, truncate=False), fp.frac_bits + 4)  # x^2 / 16
    g_in = polynomial(w, COEFFS)
    g = absx + mul(inside, g_in - absx, truncate=False)
    return trunc(x + g, 1)
