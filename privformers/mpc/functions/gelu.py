"""GeLU in its erf form, gelu(x) = x/2 + x erf(x / sqrt 2) / 2, and in its tanh form (GPT-2's
"gelu_new"), x/2 + x tanh(sqrt(2/pi) (x + 0.044715 x^3)) / 2.

g(x) = x erf(x / sqrt 2) (or x tanh(...)) is even and smooth: on |x| < 4 it is a degree-6
polynomial in w = x^2 / 16 (least-squares fit of each form, computed at import); outside,
g(x) = |x| to within 2.6e-4. Domain: all reals with |x| < 2^(40 - frac_bits); error <= 2.5e-3 on [-8, 8]
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


def _even_part(form: str, x: float) -> float:
    """g(x) = 2 gelu(x) - x for the named form."""
    if form == "erf":
        return x * math.erf(x / math.sqrt(2.0))
    return x * math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))


def _fit(form: str) -> list[float]:
    xs = np.linspace(0.0, T, 4001)
    g = np.array([_even_part(form, v) for v in xs])
    w = (xs / T) ** 2
    a = np.vstack([w**k for k in range(DEGREE + 1)]).T
    coeffs, *_ = np.linalg.lstsq(a, g, rcond=None)
    return [float(c) for c in coeffs]


COEFFS = {form: _fit(form) for form in ("erf", "tanh")}


def gelu(x: AShare, form: str = "erf") -> AShare:
    """Shares of gelu(x) = x Phi(x) ('erf'), or of its tanh approximation ('tanh')."""
    if form not in COEFFS:
        raise ValueError(f"unknown GeLU form {form!r}; expected 'erf' or 'tanh'")
    fp = x.party.fp
    t = int(fp.encode(T))
    bits = 40
    cmp = ltz(stack([x, x.add_public(-t), x.add_public(t)]), bits)  # [x<0], [x<T], [x<-T]
    neg, below_t, below_mt = cmp[0], cmp[1], cmp[2]
    inside = below_t - below_mt
    absx = x - mul(neg, x, truncate=False).lshift(1)
    w = trunc(square(x, truncate=False), fp.frac_bits + 4)  # x^2 / 16
    g_in = polynomial(w, COEFFS[form])
    g = absx + mul(inside, g_in - absx, truncate=False)
    return trunc(x + g, 1)
