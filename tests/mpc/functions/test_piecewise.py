"""Piecewise polynomials: exact on their pieces (up to z's rounding), three rounds, linear where powers wrap."""

import pytest
import torch

from privformers.mpc.functions.piecewise import Z_BITS, check, piecewise_raw, power_bound
from privformers.mpc.protocols.trunc import trunc
from tests.mpc.helpers import cost_of, run_on_secret

# |x| below -2 and above 2, x^2 / 2 + x between: a quadratic piece inside linear ones
BREAKS = (-2.0, 2.0)
COEFFS = [[0.0, -1.0], [0.0, 1.0, 0.5], [0.0, 1.0]]


def _ref(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x < -2, -x, torch.where(x < 2, x + x * x / 2, x))


def _fn(a):
    y, k = piecewise_raw(a, BREAKS, COEFFS)
    return trunc(y, k)


def test_pieces_hold_away_from_breakpoints_and_far_out():
    x = torch.cat([torch.linspace(-6, 6, 1201, dtype=torch.float64), torch.tensor([3000.0, -3000.0, 20000.0])])
    x = x[(x.abs() - 2).abs() > 2**-6]   # within 2^-6 below a breakpoint either piece may be taken
    out, _ = run_on_secret(_fn, x)
    # the quadratic is evaluated at x rounded to 2^-Z_BITS: slope <= 3 on the piece
    assert (out - _ref(x)).abs().max() < 3 * 2.0**-Z_BITS + 1e-4


def test_three_rounds_and_pinned_bytes():
    x = torch.linspace(-3, 3, 10, dtype=torch.float64)
    raw = cost_of(lambda a: piecewise_raw(a, BREAKS, COEFFS)[0], x)["client"]
    # 4 B comparison (32-bit input), 8 B powers, 2 coefficient x power products of 2 factors (16 B each)
    assert raw["rounds"] == 3 and raw["bytes"] == 10 * (4 + 8 + 2 * 16)


def test_unbounded_or_wrapping_pieces_must_be_linear():
    with pytest.raises(ValueError, match="must be linear"):
        check(BREAKS, [[0.0, 0.0, 1.0], [0.0], [0.0]])          # x^2 below -2: wraps for large |x|
    with pytest.raises(ValueError, match="must be linear"):
        check((-20.0, 20.0), [[0.0], [0.0, 0.0, 0.0, 0.0, 1.0], [0.0]])   # x^4 on [-20, 20): past power_bound(4)
    assert power_bound(4) > 11
    with pytest.raises(ValueError, match="intervals"):
        check(BREAKS, [[0.0], [1.0]])
