"""Every function against a float64 reference on its stated domain, with the stated bound."""

import math

import pytest
import torch

from privformers.mpc.functions import exp, gelu, layer_norm, reciprocal, rsqrt, sigmoid, softmax, tanh
from tests.mpc.helpers import run_on_secret


def _grid(lo, hi, n=2001):
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def test_exp_on_domain():
    x = _grid(-60, 0)
    out, _ = run_on_secret(lambda a: exp(a), x)
    assert (out - torch.exp(x)).abs().max() < 1e-4


def _in_chunks(fn, x, chunk):
    """fn on x, one secure run per chunk: 50-element chunks take the quarter-octave guess."""
    return torch.cat([run_on_secret(fn, part)[0] for part in x.split(chunk)])


@pytest.mark.parametrize("chunk", [500, 50], ids=["whole-octave-guess", "quarter-octave-guess"])
def test_reciprocal_and_rsqrt(chunk):
    x = torch.logspace(-3, 11, 500, base=2, dtype=torch.float64)
    out = _in_chunks(lambda a: reciprocal(a, lo=-4, hi=12), x, chunk)
    ref = 1 / x
    assert ((out - ref).abs() / ref.clamp(min=1)).max() < 2e-4  # a few units of 2^-16
    small = x <= 64
    assert ((out - 1 / x) * x)[small].abs().max() < 1e-3
    x = torch.logspace(-10, 15, 500, base=2, dtype=torch.float64)
    x = torch.round(x * 2**16) / 2**16  # compare with the function of the encoded input
    out = _in_chunks(lambda a: rsqrt(a, lo=-12, hi=16), x, chunk)
    assert ((out - x.rsqrt()).abs() / x.rsqrt().clamp(min=1)).max() < 2e-4
    small = x <= 256
    assert ((out - x.rsqrt()) / x.rsqrt())[small].abs().max() < 1e-3


def test_gelu_error_bound_on_minus8_to_8():
    x = _grid(-8, 8, 4001)
    out, _ = run_on_secret(lambda a: gelu(a), x)
    ref = x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    assert (out - ref).abs().max() <= 2.5e-3   # what gelu.py's docstring claims


def test_tanh_gelu_error_bound_on_minus8_to_8():
    """GPT-2's gelu_new, fitted on its own (not approximated by the erf form)."""
    x = _grid(-8, 8, 4001)
    out, _ = run_on_secret(lambda a: gelu(a, "tanh"), x)
    ref = torch.nn.functional.gelu(x, approximate="tanh")
    assert (out - ref).abs().max() <= 3e-3


def test_sigmoid_tanh():
    x = _grid(-20, 20)
    out, _ = run_on_secret(lambda a: sigmoid(a), x)
    assert (out - torch.sigmoid(x)).abs().max() < 1e-3
    out, _ = run_on_secret(lambda a: tanh(a), x)
    assert (out - torch.tanh(x)).abs().max() < 2e-3


@pytest.mark.parametrize("n", [7, 1024])
def test_softmax_rows_up_to_1024(n):
    g = torch.Generator().manual_seed(n)
    x = (torch.rand(4, n, generator=g, dtype=torch.float64) * 60) - 30
    out, _ = run_on_secret(lambda a: softmax(a, dim=-1), x)
    assert (out - torch.softmax(x, -1)).abs().max() <= 1e-3


def test_softmax_with_public_causal_mask():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 5, generator=g, dtype=torch.float64) * 4
    mask = torch.tril(torch.ones(5, 5, dtype=torch.bool))
    out, _ = run_on_secret(lambda a: softmax(a, dim=-1, mask=mask), x)
    ref = torch.softmax(x.masked_fill(~mask, float("-inf")), -1)
    assert (out - ref).abs().max() <= 1e-3
    assert torch.all(out[~mask] == 0)


def test_layernorm():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 64, generator=g, dtype=torch.float64) * 3 + 1
    w = torch.randn(64, generator=g, dtype=torch.float64)
    b = torch.randn(64, generator=g, dtype=torch.float64)
    out, _ = run_on_secret(lambda a: layer_norm(a, w, b), x)
    ref = torch.nn.functional.layer_norm(x, (64,), w, b)
    assert (out - ref).abs().max() < 2e-3


def test_reciprocal_and_rsqrt_trade_comparisons_for_rounds_by_size():
    """Many elements: wide intervals compared coarsely (reciprocal: four octaves; rsqrt: one), for
    five and one more Newton rounds."""
    from tests.mpc.helpers import cost_of

    rounds = {}
    for n in (10, 500):
        x = torch.linspace(1, 100, n, dtype=torch.float64)
        rounds[n] = (cost_of(lambda a: reciprocal(a, lo=-4, hi=12), x)["client"]["rounds"],
                     cost_of(lambda a: rsqrt(a, lo=-4, hi=12), x)["client"]["rounds"])
    assert rounds == {10: (5, 6), 500: (10, 7)}


def test_coarse_guesses_hold_their_bound_just_below_every_threshold():
    """x within 1/8 of a threshold may be put in the interval above; the extra steps absorb it."""
    k = torch.arange(-3, 12, dtype=torch.float64)
    x = torch.cat([2**k * (1 - d) for d in (2.0**-3, 2.0**-5, 2.0**-9, 0.0)] + [2**k * 1.01]).repeat(4)
    x = torch.round(x * 2**16) / 2**16
    assert x.numel() * 16 >= 2048                      # the wide, coarse intervals are in use
    small = x <= 64
    for fn, ref in ((reciprocal, 1 / x), (rsqrt, x.rsqrt())):
        out, _ = run_on_secret(lambda a, fn=fn: fn(a, lo=-4, hi=12), x)
        # Goldschmidt's u is rounded to f bits at each of the 7 steps and is not self-correcting: over 92
        # runs the reciprocal's largest error had median 9.5e-5, p90 1.75e-4, max 2.25e-4 (about 15 ulps)
        assert ((out - ref).abs() / ref.clamp(min=1)).max() < 3e-4
        assert ((out - ref) / ref)[small].abs().max() < 1e-3


def test_rsqrt_of_an_untruncated_product_matches_its_truncated_input():
    """rsqrt_raw(pending=f) on a product at scale 2^(2f): the comparison reads it untruncated and the
    first product truncates it, with the accuracy of rsqrt on the truncated value, also just below
    the interval thresholds (quarter octaves for few elements, whole octaves compared coarsely for many)."""
    from privformers.mpc.functions.rsqrt import rsqrt_raw
    from privformers.mpc.protocols.trunc import trunc

    k = torch.arange(-3, 11, dtype=torch.float64)
    edges = torch.cat([2 ** (k + j / 4) for j in range(4)])
    x = torch.cat([edges * (1 - 2.0**-14), edges, edges * 1.003]) / 1.37   # the product with 1.37 lands on them
    y = (torch.round(x * 2**16) / 2**16) * (round(1.37 * 2**16) / 2**16)   # the product of the encoded values

    def fn(a):
        f = a.party.fp.frac_bits
        raw = a.mul_public(a.party.fp.encode(torch.tensor(1.37, dtype=torch.float64)))    # scale 2f, low bits set
        out, shift = rsqrt_raw(raw, lo=-4, hi=12, pending=f)
        return trunc(out, shift)

    for chunk in (x.numel(), 20):
        out = _in_chunks(fn, x, chunk)
        assert ((out - y.rsqrt()).abs() / y.rsqrt().clamp(min=1)).max() < 1e-4


@pytest.mark.parametrize("frac_bits", [16, 18], ids=["fused", "no-room-truncates-first"])
def test_layernorm_over_wide_variances_and_its_rounds(frac_bits):
    """LayerNorm at GPT-2 base's width across variances 1e-3 .. 1e4: the sum of squares goes to rsqrt
    untruncated where the ring has room (8 rounds for a decode row, 9 with the coarse guess of many
    rows), and is truncated first where it has not (18 fractional bits: one round more)."""
    from tests.mpc.helpers import cost_of

    g = torch.Generator().manual_seed(1)
    sd = torch.logspace(-1.5, 2 if frac_bits == 16 else 1.5, 6, dtype=torch.float64).reshape(-1, 1)
    x = torch.randn(6, 768, generator=g, dtype=torch.float64) * sd + 0.5
    out, _ = run_on_secret(lambda a: layer_norm(a), x, frac_bits=frac_bits)
    ref = torch.nn.functional.layer_norm(x, (768,))
    assert (out - ref).abs().max() < 2e-3
    extra = 0 if frac_bits == 16 else 1
    assert cost_of(lambda a: layer_norm(a), x[:1], frac_bits=frac_bits)["client"]["rounds"] == 8 + extra
    many = torch.randn(128, 768, generator=g, dtype=torch.float64)
    assert cost_of(lambda a: layer_norm(a), many, frac_bits=frac_bits)["client"]["rounds"] == 9 + extra


@pytest.mark.parametrize("form", ["erf", "tanh"])
def test_gelu_of_an_untruncated_product_in_the_same_rounds(form):
    """A linear layer's output goes into GeLU untruncated: the comparisons read it as it is and GeLU's
    second round truncates it, so the truncation's own round is saved; values near and far past the
    thresholds +-4 included."""
    from tests.mpc.helpers import cost_of

    x = torch.cat([_grid(-8, 8, 2001), torch.tensor([4 - 2**-10, -4 - 2**-10, 4.0, -4.0, 100.0, -3000.0])])
    x = x / 1.37
    y = (torch.round(x * 2**16) / 2**16) * (round(1.37 * 2**16) / 2**16)   # the product of the encoded values
    ref = torch.nn.functional.gelu(y, approximate="none" if form == "erf" else "tanh")

    def fn(a):
        raw = a.mul_public(a.party.fp.encode(torch.tensor(1.37, dtype=torch.float64)))    # scale 2f, low bits set
        return gelu(raw, form, pending=a.party.fp.frac_bits)

    out, _ = run_on_secret(fn, x)
    assert (out - ref).abs().max() <= 3e-3
    assert cost_of(fn, x[:10])["client"]["rounds"] == cost_of(lambda a: gelu(a, form), x[:10])["client"]["rounds"] == 5
