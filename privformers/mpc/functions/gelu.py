"""GeLU in its erf form, gelu(x) = x/2 + x erf(x / sqrt 2) / 2, and in its tanh form (GPT-2's
"gelu_new"), x/2 + x tanh(sqrt(2/pi) (x + 0.044715 x^3)) / 2.

g(x) = x erf(x / sqrt 2) (or x tanh(...)) is even and smooth: on |x| < T = 4 it is a degree-6
polynomial in w = x^2 / 16 (least-squares fit of each form, computed at import); outside,
gelu(x) is x (x >= T) or 0 (x <= -T) to within 1.3e-4. So
    gelu(x) = x - [x < T] x + ([x < T] - [x < -T]) (x + g(x)) / 2,
with no sign comparison at all (inside the interval both branches of |x| give the same value).
The two threshold comparisons ignore x's bits below 2^-6 (a DCF of 21 levels at 16 fractional
bits): x that close below a threshold may land on either side, so the fit covers
[0, T + 2^-6], where both formulas agree to about 1e-4.
Domain: |x| < 2^15; error <= 2.5e-3 on [-8, 8] (measured in the tests; target 1e-2).
Cost: 5 rounds: the comparisons; [x < T] x and x^2; w, w^2, w^3 (one fused truncation); the
upper half of the polynomial, w^3 (c4 w + c5 w^2 + c6 w^3); the product with the inside bit.
An input still to be truncated (a linear layer's output) costs no round more: the comparisons read
it as it is and the second round truncates it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from privformers.mpc.protocols.compare import below_thresholds
from privformers.mpc.protocols.fused import Factor, fused_mul, trunc_powers
from privformers.mpc.shares import AShare

T = 4.0
DEGREE = 6
DOMAIN_LOG2 = 15  # comparisons work for |x| < 2^15
WINDOW_LOG2 = -6  # threshold comparisons ignore x's bits below 2^-6: x within that below T may go either way
W_BITS = 13       # fractional bits of w = x^2 / 16 in the polynomial (w^3 c6 at 4 W_BITS stays < 2^62)


def _even_part(form: str, x: float) -> float:
    """g(x) = 2 gelu(x) - x for the named form."""
    if form == "erf":
        return x * math.erf(x / math.sqrt(2.0))
    return x * math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))


def _fit(form: str) -> list[float]:
    xs = np.linspace(0.0, T + 2.0**WINDOW_LOG2, 4001)  # covers x just past T, taken as inside
    g = np.array([_even_part(form, v) for v in xs])
    w = (xs / T) ** 2
    a = np.vstack([w**k for k in range(DEGREE + 1)]).T
    coeffs, *_ = np.linalg.lstsq(a, g, rcond=None)
    return [float(c) for c in coeffs]


COEFFS = {form: _fit(form) for form in ("erf", "tanh")}


def gelu(x: AShare, form: str = "erf", pending: int = 0) -> AShare:
    """Shares of gelu(x) = x Phi(x) ('erf'), or of its tanh approximation ('tanh').

    pending: x is at scale 2^(f + pending), a product not yet truncated; the result is at scale 2^f."""
    if form not in COEFFS:
        raise ValueError(f"unknown GeLU form {form!r}; expected 'erf' or 'tanh'")
    fp = x.party.fp
    f, s = fp.frac_bits, W_BITS
    if not 0 <= pending or f + DOMAIN_LOG2 + 1 + pending > 64:
        raise ValueError(f"gelu: {pending} pending bits at {f} fractional bits exceed the ring")
    t = int(fp.encode(T)) << pending
    # [x < T], [x < -T]: the same DCF levels whatever is pending (its bits are ignored with the window's)
    cmp = below_thresholds(x, torch.tensor([t, -t]), f + DOMAIN_LOG2 + 1 + pending,
                           max(0, f + WINDOW_LOG2) + pending)
    below_t = cmp[0]
    inside = below_t - cmp[1]
    (_, x), (below_x,), raised = fused_mul([Factor(below_t), Factor(x, pending)], [(0, 1)], {1: 2})  # x^2 at 2f
    w, (w2, w3) = trunc_powers(raised[1][0], 2 * f + 4 - s, 3)  # w = x^2 / 16 at scale s; w^2, w^3 at 2s, 3s
    c = [round(v * 2**s) for v in COEFFS[form]]                # coefficients at scale s
    low = w.mul_public(c[1] << 2 * s) + w2.mul_public(c[2] << s) + w3.mul_public(c[3])     # scale 4s
    high = w.mul_public(c[4] << 2 * s) + w2.mul_public(c[5] << s) + w3.mul_public(c[6])    # scale 4s
    _, (upper,), _ = fused_mul([Factor(w3, s), Factor(high, 2 * s)], [(0, 1)])            # w^3 high, 4s
    g = (low + upper).add_public(c[0] << 3 * s)                                            # g(x) at 4s
    h = x.lshift(4 * s - f) + g                                                            # x + g at 4s
    _, (half,), _ = fused_mul([Factor(inside), Factor(h, 4 * s - f + 1)], [(0, 1)])       # inside (x+g)/2
    return x - below_x + half
