"""Which fraction of an octave a positive secret lies in, as public combinations of comparison bits.

For x in [2^lo, 2^hi], one batched comparison round against t_j = 2^(lo + j/n) (n intervals per
octave) gives bits [x < t_j]. Any function of the interval, g(j), is then a public combination
of those bits (a telescoping sum), so it costs no further rounds: a Newton starting guess,
a power of two to normalise by, or several such tables at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from privformers.mpc.protocols.compare import ltz
from privformers.mpc.shares import AShare


def interval_bits(x: AShare, lo: int, hi: int, per_octave: int) -> AShare:
    """Shares of [x < t_j] for the inner thresholds t_j = 2^(lo + j / per_octave), j = 1 .. n-1."""
    fp = x.party.fp
    n = per_octave * (hi - lo)
    thresholds = fp.encode(torch.tensor([2.0 ** (lo + j / per_octave) for j in range(1, n)], dtype=torch.float64))
    bits = max(hi, 0) + fp.frac_bits + 3
    shifted = x.unsqueeze(0).add_public(-thresholds.reshape(-1, *([1] * x.dim())))  # one row per threshold
    return ltz(shifted, bits)


def interval_table(below: AShare, values: Sequence[int] | torch.Tensor) -> AShare:
    """sum_j [x in interval j] values[j] (ring integers), from the bits of ``interval_bits``.

    Telescoping: values[-1] plus, for each threshold t_j that x is below, values[j-1] - values[j]."""
    v = torch.as_tensor(values, dtype=torch.int64)
    steps = (v[:-1] - v[1:]).reshape(-1, *([1] * (below.dim() - 1)))
    out = below.mul_public(steps).sum(0)
    return out.add_public(int(v[-1]))


def octave_guess(x: AShare, lo: int, hi: int, g: Callable[[float], float], per_octave: int = 2) -> AShare:
    """Shares of g(geometric middle of x's interval), for x in [2^lo, 2^hi]; one comparison round."""
    fp = x.party.fp
    n = per_octave * (hi - lo)
    below = interval_bits(x, lo, hi, per_octave)
    mids = torch.tensor([g(2.0 ** (lo + (j + 0.5) / per_octave)) for j in range(n)], dtype=torch.float64)
    return interval_table(below, fp.encode(mids))
