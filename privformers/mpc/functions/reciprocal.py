"""1/x for x in [2^lo, 2^hi] (positive): an octave-fraction guess, then Goldschmidt's iteration.

With u = x y (u -> 1): y <- y (2 - u), u <- u (2 - u). Each step opens u and y once through
``fused_mul`` (which also truncates them), and u (2 - u) is a local polynomial of the opened u,
so a step is one round; y keeps 8 extra fractional bits between steps. The error 1 - u squares
at every step, and the steps go on until it is below ``TARGET_ERROR``. For a few elements the guess
comes from quarter octaves (|1 - u| < 0.087: 2 steps to 5.6e-5); for many, from four-octave
intervals and coarse comparisons (|1 - u| < 0.90: 7 steps to 9e-7), which needs a sixteenth of the
threshold evaluations, each over fewer bits (``octave.per_octave_for``): for attention's row sums
the evaluations cost more than the two extra rounds. Errors are before fixed-point rounding.
Cost: 1 comparison round + 1 product + 1 round per step; the result comes out untruncated.
"""

from __future__ import annotations

from privformers.mpc.functions.octave import octave_guess, per_octave_for, steps_for
from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.fused import Factor, fused_mul
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare

TARGET_ERROR = 1e-4  # relative error before fixed-point rounding
EXTRA_BITS = 8  # y is kept at f + 8 fractional bits between steps: 1/x is small for large x


def reciprocal_raw(x: AShare, lo: int = -4, hi: int = 12, iterations: int | None = None) -> tuple[AShare, int]:
    """(shares of 1/x at scale 2^(f + k), k): the result still to be truncated by k bits.

    iterations: None picks the fewest that reach ``TARGET_ERROR`` from the guess."""
    f = x.party.fp.frac_bits
    per_octave = per_octave_for(x.numel(), hi - lo, widest=0.25)
    if per_octave < 1:
        hi += -(hi - lo) % round(1 / per_octave)  # whole four-octave intervals
    if iterations is None:
        iterations = steps_for(per_octave, lambda e: e * e, TARGET_ERROR)
    y = octave_guess(x, lo, hi, lambda v: 1.0 / v, per_octave)
    u = mul(x, y, truncate=False)                 # scale 2f
    e = EXTRA_BITS
    y_k, y_e = 0, 0                               # y at scale f + y_e + y_k, to be truncated by y_k
    for step in range(iterations):
        last = step == iterations - 1
        (u_t, y_t), (yu,), raised = fused_mul([Factor(u, f), Factor(y, y_k)], [(1, 0)], None if last else {0: 2})
        y = y_t.lshift(f + 1 + e - y_e) - yu.lshift(e - y_e)  # 2y - y u, scale 2f + e
        y_k, y_e = f, e
        if not last:
            u = u_t.lshift(f + 1) - raised[0][0]  # 2u - u^2, scale 2f
    return y, y_k + e


def reciprocal(x: AShare, lo: int = -4, hi: int = 12, iterations: int | None = None) -> AShare:
    """Shares of 1/x for x in [2^lo, 2^hi]."""
    y, k = reciprocal_raw(x, lo, hi, iterations)
    return trunc(y, k) if k else y
