"""Piecewise polynomials with public breakpoints, in three rounds.

For breakpoints t_1 < ... < t_m and a polynomial p_i(x) = sum_k c_ik x^k of degree <= d on each of the
m + 1 intervals:
  1. one comparison round: x is opened once (masked) and compared with every t_j (``below_thresholds``);
     each coefficient c_k = c_ik for x's interval i is then a public combination of the bits
     (``octave.interval_table``): local;
  2. one fused round truncates x to z (``Z_BITS`` fractional bits) and raises it to z^2 .. z^d
     (``trunc_powers``);
  3. one fused round multiplies each c_k by z^k, truncating z^k in the same opening.
The result comes out untruncated, at ``COEFF_BITS + Z_BITS`` fractional bits (``piecewise_raw``): a
consumer that truncates anyway (a product, a truncation of its own) takes it as it is.
The polynomial is evaluated exactly at z (x rounded to 2^-Z_BITS), so its error is the fit's, plus
|p'(x)| 2^-Z_BITS, plus about sum_k |x|^k 2^-(COEFF_BITS + 1) from the coefficients' rounding.
Powers past 2^62 wrap around: where |x|^d 2^(d Z_BITS) may exceed it, the interval must be linear
(c_k = 0 for k >= 2, so the wrapped powers are multiplied by an exact zero). ``check`` enforces it.
The comparisons ignore x's bits below 2^-6 (a DCF of 21 levels at 16 fractional bits): an x within
that below a breakpoint may take the interval above, so fits should cover 2^-6 past each end.
Domain: |x| < 2^15. Cost: 3 rounds; per element and party ceil(bits / 8) bytes for the comparison
(8 with a pending input), 8 for the powers and 16 d for the coefficient products; the comparison's
local DCF evaluations grow with m.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.mpc.functions.octave import interval_table
from privformers.mpc.protocols.compare import below_thresholds
from privformers.mpc.protocols.fused import Factor, fused_mul, trunc_powers
from privformers.mpc.shares import AShare

DOMAIN_LOG2 = 15   # |x| < 2^15 for the comparisons
WINDOW_LOG2 = -6   # comparisons ignore x's bits below 2^-6
Z_BITS = 12        # fractional bits of z: z^4 at 48 bits leaves |x| < 11.3 for quartic pieces
COEFF_BITS = 28    # fractional bits of the coefficients


def power_bound(degree: int) -> float:
    """The largest |x| whose degree-th power at ``Z_BITS`` fractional bits stays below 2^62."""
    return 2.0 ** ((62 - degree * Z_BITS) / degree)


def check(breakpoints: Sequence[float], coeffs: Sequence[Sequence[float]]) -> None:
    """Raise ValueError unless the pieces are well formed: increasing breakpoints, one coefficient row
    per interval, and linear pieces wherever x's powers could wrap around (the two unbounded ones, and
    any that reaches past ``power_bound``)."""
    t = list(breakpoints)
    if any(b <= a for a, b in zip(t, t[1:])) or not t:
        raise ValueError("breakpoints must be increasing and at least one")
    if len(coeffs) != len(t) + 1:
        raise ValueError(f"{len(t)} breakpoints make {len(t) + 1} intervals, got {len(coeffs)} coefficient rows")
    d = max(len(c) for c in coeffs) - 1
    edges = [-float("inf"), *t, float("inf")]
    for (a, b), c in zip(zip(edges, edges[1:]), coeffs):
        degree = max((k for k, v in enumerate(c) if v != 0), default=0)
        reach = max(abs(a), abs(b)) + 2.0**WINDOW_LOG2
        if degree >= 2 and reach >= power_bound(d):
            raise ValueError(f"the piece on [{a}, {b}) has degree {degree}, but x^{d} wraps around past "
                             f"|x| = {power_bound(d):.2f}: it must be linear")


def piecewise_raw(x: AShare, breakpoints: Sequence[float], coeffs: Sequence[Sequence[float]],
                  pending: int = 0) -> tuple[AShare, int]:
    """(shares of p(x) at scale 2^(f + k), k) for the piecewise polynomial of ``coeffs`` (one row per
    interval, lowest power first) between ``breakpoints``.

    pending: x is a product not yet truncated (scale 2^(f + pending)); the comparisons read it as it
    is and the powers' round truncates it, so it costs no round more."""
    check(breakpoints, coeffs)
    fp = x.party.fp
    f = fp.frac_bits
    bits = f + DOMAIN_LOG2 + 1 + pending
    if pending < 0 or bits > 64 or f < Z_BITS:
        raise ValueError(f"piecewise: {pending} pending bits at {f} fractional bits do not fit the ring")
    d = max(len(c) for c in coeffs) - 1
    table = torch.zeros(len(coeffs), d + 1, dtype=torch.float64)
    for i, c in enumerate(coeffs):
        table[i, :len(c)] = torch.tensor(list(c), dtype=torch.float64)
    thresholds = fp.encode(torch.tensor(list(breakpoints), dtype=torch.float64)) << pending
    below = below_thresholds(x, thresholds, bits, max(0, f + WINDOW_LOG2) + pending)
    cb, zb = COEFF_BITS, Z_BITS
    out_bits = cb + zb
    const = interval_table(below, torch.round(table[:, 0] * 2.0**out_bits).to(torch.int64))
    if d == 0:
        return const, out_bits - f
    c = [interval_table(below, torch.round(table[:, k] * 2.0**cb).to(torch.int64)) for k in range(1, d + 1)]
    z, raised = trunc_powers(x, f + pending - zb, d) if d >= 2 else (_trunc_only(x, f + pending - zb), [])
    powers = [Factor(z)] + [Factor(p, (k - 1) * zb) for k, p in enumerate(raised, start=2)]  # each at zb
    _, products, _ = fused_mul([Factor(ck) for ck in c] + powers, [(k, d + k) for k in range(d)])
    out = const
    for term in products:
        out = out + term
    return out, out_bits - f


def _trunc_only(x: AShare, k: int) -> AShare:
    from privformers.mpc.protocols.trunc import trunc

    return trunc(x, k) if k > 0 else x
