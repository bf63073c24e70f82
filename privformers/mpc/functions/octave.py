"""Which fraction of an octave a positive secret lies in, as public combinations of comparison bits.

For x in [2^lo, 2^hi], one comparison round against t_j = 2^(lo + j/n) (n intervals per
octave) gives bits [x < t_j]; x is opened once for all thresholds (``below_thresholds``).
Any function of the interval, g(j), is then a public combination of those bits (a telescoping
sum), so it costs no further rounds: a Newton starting guess, a power of two to normalise by,
or several such tables at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from privformers.mpc.party import placeholder
from privformers.mpc.protocols.compare import below_thresholds
from privformers.mpc.shares import AShare

COARSE_MARGIN = 3  # coarse comparisons ignore bits below t_min / 2^3: x within 1/8 of a threshold may go up


def interval_bits(x: AShare, lo: int, hi: int, per_octave: float, coarse: bool = False,
                  pending: int = 0) -> AShare:
    """Shares of [x < t_j] for the inner thresholds t_j = 2^(lo + j / per_octave), j = 1 .. n-1.

    coarse: compare only the bits above t_min / 8 (a DCF of about lo + f - 2 fewer levels). An x
    less than 1/8 of t below a threshold t may then count as above it; the bits stay monotone,
    because coarse thresholds are at least a factor 2 apart, and ``start_error`` allows for it.
    pending: x is a product not yet truncated, at scale 2^(f + pending). The thresholds are scaled to
    match and the DCF ignores the pending bits, so it has as many levels as for the truncated x; an x
    less than one unit of the truncated scale below a threshold may count as above it, which is
    within truncation's own error."""
    fp = x.party.fp
    n = round(per_octave * (hi - lo))
    thresholds = fp.encode(torch.tensor([2.0 ** (lo + j / per_octave) for j in range(1, n)],
                                        dtype=torch.float64)) << pending
    bits = max(hi, 0) + fp.frac_bits + 3 + pending
    if bits > 64:
        raise ValueError(f"interval_bits: 2^{hi} at {fp.frac_bits} + {pending} fractional bits exceeds the ring")
    if n == 1:  # a single interval: no threshold, nothing to compare
        p, shape = x.party, (0, *x.shape)
        return AShare(p, placeholder(shape) if p.symbolic else torch.zeros(shape, dtype=torch.int64))
    ignore = pending
    if coarse:
        ignore = min(max(pending, int(thresholds.min()).bit_length() - 1 - COARSE_MARGIN), bits - 3)
    return below_thresholds(x, thresholds, bits, ignore)  # one opening of x serves every threshold


def interval_table(below: AShare, values: Sequence[int] | torch.Tensor) -> AShare:
    """sum_j [x in interval j] values[j] (ring integers), from the bits of ``interval_bits``.

    Telescoping: values[-1] plus, for each threshold t_j that x is below, values[j-1] - values[j]."""
    v = torch.as_tensor(values, dtype=torch.int64)
    steps = (v[:-1] - v[1:]).reshape(-1, *([1] * (below.dim() - 1)))
    out = below.mul_public(steps).sum(0)
    return out.add_public(int(v[-1]))


MANY = 2048  # elements x octaves from which wide intervals pay (see ``per_octave_for``)


def per_octave_for(numel: int, octaves: int, widest: float = 1.0) -> float:
    """Thresholds per octave for a function of ``numel`` secrets over ``octaves`` octaves: 4, or
    ``widest`` (1, or 1/k: k-octave intervals) with coarse comparisons.

    Wider intervals save DCF evaluations (about 5 us each per element on one core) and cost the
    Newton-type iteration after them one or two more rounds (a few ms on a LAN). From MANY
    element-octaves on (a LayerNorm over 128 tokens, a row sum per attention head and query) the
    evaluations weigh more; below (a decode step) the rounds do."""
    return widest if numel * octaves >= MANY else 4


def middle(lo: int, j: int, per_octave: float) -> float:
    """The arithmetic middle (a + b) / 2 of interval j, [a, b) = [2^(lo + j/n), 2^(lo + (j+1)/n)).

    A guess y = 1 / middle makes x y lie in [2a/(a+b), 2b/(a+b)], as close to 1 as a constant allows."""
    return (2.0 ** (lo + j / per_octave) + 2.0 ** (lo + (j + 1) / per_octave)) / 2


def is_coarse(per_octave: float) -> bool:
    """Whether intervals this wide use coarse comparisons (``interval_bits``): 1 or fewer per octave."""
    return per_octave <= 1


def start_error(per_octave: float) -> float:
    """max |1 - x y| for the guess y = 1 / middle: (r - 1) / (r + 1) for r = b / a = 2^(1/n), plus
    2 delta / (r + 1) with delta = 1/8 when a coarse comparison may put x in the interval above."""
    ratio = 2.0 ** (1.0 / per_octave)
    slack = 2 * 2.0**-COARSE_MARGIN / (ratio + 1) if is_coarse(per_octave) else 0.0
    return (ratio - 1) / (ratio + 1) + slack


def steps_for(per_octave: float, next_error: Callable[[float], float], target: float) -> int:
    """Fewest iterations that take the guess's worst start error to ``target``, given one step's error map."""
    e, steps = start_error(per_octave), 0
    while e > target:
        e, steps = next_error(e), steps + 1
    return max(steps, 1)


def octave_guess(x: AShare, lo: int, hi: int, g: Callable[[float], float], per_octave: float = 2) -> AShare:
    """Shares of g(arithmetic middle of x's interval), for x in [2^lo, 2^hi]; one comparison round.

    per_octave * (hi - lo) must be a whole number of intervals; wide ones compare coarsely."""
    fp = x.party.fp
    n = round(per_octave * (hi - lo))
    if n != per_octave * (hi - lo):
        raise ValueError(f"{hi - lo} octaves do not split into intervals of {1 / per_octave} octaves")
    below = interval_bits(x, lo, hi, per_octave, coarse=is_coarse(per_octave))
    mids = torch.tensor([g(middle(lo, j, per_octave)) for j in range(n)], dtype=torch.float64)
    return interval_table(below, fp.encode(mids))
