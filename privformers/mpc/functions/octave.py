"""Initial guesses for Newton iterations from comparisons against half-octave thresholds.

For x in [2^lo, 2^hi], one batched comparison round finds which interval [t_j, t_j+1) with
t_j = 2^(lo + j/2) holds x; the guess g(x) evaluated at the interval's geometric middle is a
public combination of those bits (a telescoping sum), so it costs no further rounds.
"""

from __future__ import annotations

from collections.abc import Callable

from privformers.mpc.protocols.compare import ltz
from privformers.mpc.shares import AShare, stack


def octave_guess(x: AShare, lo: int, hi: int, g: Callable[[float], float]) -> AShare:
    """Shares of g(middle of x's half-octave), for x in [2^lo, 2^hi]; one comparison round."""
    fp = x.party.fp
    n = 2 * (hi - lo)
    thresholds = [2.0 ** (lo + j / 2) for j in range(1, n)]
    values = [g(2.0 ** (lo + (j + 0.5) / 2)) for j in range(n)]
    bits = max(hi, 0) + fp.frac_bits + 3
    diffs = stack([x.add_public(-int(fp.encode(t))) for t in thresholds])
    below = ltz(diffs, bits)  # [x < t_j]
    out = None
    for j in range(1, n):
        step = int(fp.encode(values[j] - values[j - 1]))
        term = below[j - 1].mul_public(-step)  # + step when x >= t_j, i.e. (1 - below) * step
        out = term if out is None else out + term
    total = sum(int(fp.encode(values[j] - values[j - 1])) for j in range(1, n))
    return out.add_public(int(fp.encode(values[0])) + total)

