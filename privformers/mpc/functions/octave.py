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


def interval_bits(x: AShare, lo: int, hi: int, per_octave: int) -> AShare:
    """Shares of [x < t_j] for the inner thresholds t_j = 2^(lo + j / per_octave), j = 1 .. n-1."""
    fp = x.party.fp
    n = per_octave * (hi - lo)
    thresholds = fp.encode(torch.tensor([2.0 ** (lo + j / per_octave) for j in range(1, n)], dtype=torch.float64))
    bits = max(hi, 0) + fp.frac_bits + 3
    if n == 1:  # a single interval: no threshold, nothing to compare
        p, shape = x.party, (0, *x.shape)
        return AShare(p, placeholder(shape) if p.symbolic else torch.zeros(shape, dtype=torch.int64))
    return below_thresholds(x, thresholds, bits)  # one opening of x serves every threshold


def interval_table(below: AShare, values: Sequence[int] | torch.Tensor) -> AShare:
    """sum_j [x in interval j] values[j] (ring integers), from the bits of ``interval_bits``.

    Telescoping: values[-1] plus, for each threshold t_j that x is below, values[j-1] - values[j]."""
    v = torch.as_tensor(values, dtype=torch.int64)
    steps = (v[:-1] - v[1:]).reshape(-1, *([1] * (below.dim() - 1)))
    out = below.mul_public(steps).sum(0)
    return out.add_public(int(v[-1]))


FEW_ELEMENTS = 64  # below this many elements, rounds cost more than comparisons (see ``per_octave_for``)


def per_octave_for(numel: int) -> int:
    """Thresholds per octave for a function of ``numel`` secrets: 4 for a few, 1 for many.

    Each threshold costs one DCF evaluation per element (about 5 us on one core); each octave step
    fewer costs the Newton-type iteration after it one more round. With a few elements (a decode
    step) the round is dearer; with many (a prompt, a row sum per attention head) the evaluations are."""
    return 4 if numel < FEW_ELEMENTS else 1


def middle(lo: int, j: int, per_octave: int) -> float:
    """The arithmetic middle (a + b) / 2 of interval j, [a, b) = [2^(lo + j/n), 2^(lo + (j+1)/n)).

    A guess y = 1 / middle makes x y lie in [2a/(a+b), 2b/(a+b)], as close to 1 as a constant allows."""
    return (2.0 ** (lo + j / per_octave) + 2.0 ** (lo + (j + 1) / per_octave)) / 2


def start_error(per_octave: int) -> float:
    """max |1 - x y| for the guess y = 1 / middle: (b - a) / (b + a) for b / a = 2^(1/n)."""
    ratio = 2.0 ** (1.0 / per_octave)
    return (ratio - 1) / (ratio + 1)


def steps_for(per_octave: int, next_error: Callable[[float], float], target: float) -> int:
    """Fewest iterations that take the guess's worst start error to ``target``, given one step's error map."""
    e, steps = start_error(per_octave), 0
    while e > target:
        e, steps = next_error(e), steps + 1
    return max(steps, 1)


def octave_guess(x: AShare, lo: int, hi: int, g: Callable[[float], float], per_octave: int = 2) -> AShare:
    """Shares of g(arithmetic middle of x's interval), for x in [2^lo, 2^hi]; one comparison round."""
    fp = x.party.fp
    n = per_octave * (hi - lo)
    below = interval_bits(x, lo, hi, per_octave)
    mids = torch.tensor([g(middle(lo, j, per_octave)) for j in range(n)], dtype=torch.float64)
    return interval_table(below, fp.encode(mids))
