"""RMSNorm's normalisation across wide magnitudes, with a pending input, and its pinned rounds and bytes."""

import pytest
import torch

from privformers.mpc.functions.rmsnorm import rms_normalize, rms_normalize_raw
from tests.mpc.helpers import cost_of, run_on_secret


def _ref(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


@pytest.mark.parametrize("width", [64, 576])
def test_rms_normalize_over_wide_magnitudes(width):
    """mean(x^2) from about 1e-3 to 1e4 (the domain is [2^-12, 2^16]), one row with an outlier feature."""
    g = torch.Generator().manual_seed(width)
    scale = torch.logspace(-1.5, 2, 6, dtype=torch.float64).reshape(-1, 1)
    x = torch.randn(6, width, generator=g, dtype=torch.float64) * scale
    x[2, 3] = 300.0   # one massive activation (as in Llama-2's residual stream)
    out, _ = run_on_secret(lambda a: rms_normalize(a, 1e-6), x)
    err = (out - _ref(x, 1e-6)).abs().max()
    print(f"rmsnorm width {width} max abs error {err:.2e}")
    assert err < 2e-3


def test_rms_normalize_of_a_pending_sum_equals_the_truncated_one():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 64, generator=g, dtype=torch.float64) * 5

    def fn(a):   # a residual sum still at 2f
        return rms_normalize(a.lshift(16), 1e-5, pending=16)

    out, _ = run_on_secret(fn, x)
    assert (out - _ref(x, 1e-5)).abs().max() < 2e-3


def test_rms_normalize_rounds_and_bytes_are_pinned():
    """A decode row: 7 rounds untruncated (x^2, rsqrt's comparison, its first product and 3 Newton steps,
    the output product), 8 with the output's truncation; many rows: whole-octave guesses, one step more."""
    g = torch.Generator().manual_seed(1)
    row = torch.randn(1, 576, generator=g, dtype=torch.float64)
    raw = cost_of(lambda a: rms_normalize_raw(a, 1e-6)[0], row)["client"]
    assert raw["rounds"] == 7
    # x for x^2 and x for the output product: 8 B per feature each; rsqrt on the row's one sum: comparison
    # 8 B, its first product 16, three steps 16 each, and 1/rms into the output product 8
    assert raw["bytes"] == 2 * 8 * 576 + (8 + 16 + 3 * 16 + 8)
    assert cost_of(lambda a: rms_normalize(a, 1e-6), row)["client"]["rounds"] == 8
    many = torch.randn(128, 576, generator=g, dtype=torch.float64)
    assert cost_of(lambda a: rms_normalize(a, 1e-6), many)["client"]["rounds"] == 9
