"""Fused truncate-and-multiply: one round, results equal trunc-then-mul."""

import torch

from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.fused import Factor, fused_mul, trunc_mul
from privformers.mpc.protocols.trunc import trunc
from tests.mpc.helpers import cost_of, run_on_secret

F = 16


def _raw(a, b):
    return mul(a, b, truncate=False)  # scale 2f: needs truncation by f


def test_trunc_mul_raw_times_clean_and_raw_times_raw():
    g = torch.Generator().manual_seed(1)
    x, y, w = (torch.randn(500, generator=g) * 4 for _ in range(3))

    out, _ = run_on_secret(lambda a, b, c: trunc(trunc_mul(_raw(a, b), F, c, 0)), x, y, w)
    assert (out - x * y * w).abs().max() < 2e-3
    out, _ = run_on_secret(lambda a, b, c: trunc(trunc_mul(_raw(a, b), F, _raw(c, c), F)), x, y, w)
    assert (out - x * y * w * w).abs().max() < 2e-2 * (x * y * w * w).abs().max().clamp(min=1)


def test_fused_mul_shares_factors_broadcasts_and_returns_truncated_factors():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 7, generator=g) * 3
    s = torch.rand(3, 1, generator=g) + 0.5

    def fn(a, b):
        raw = _raw(a, a)                       # x^2, raw
        col = _raw(b, b)                       # s^2, raw, broadcasts over the rows
        (tx, ts, _), (p1, p2, p3), _ = fused_mul([Factor(raw, F), Factor(col, F), Factor(a)], [(0, 1), (1, 2), (0, 2)])
        return trunc(p1 + p2 + p3) + tx + ts

    out, _ = run_on_secret(fn, x, s)
    ref = x**2 * s**2 + s**2 * x + x**2 * x + x**2 + s**2
    assert (out - ref).abs().max() < 1e-2 * ref.abs().max()


def test_one_round_for_all_products():
    x = torch.randn(64)
    cost = cost_of(lambda a: fused_mul([Factor(a, 4), Factor(a)], [(0, 1), (0, 0), (1, 1)])[1][0], x)
    assert cost["client"]["rounds"] == 1
    assert cost["client"]["bytes"] == 2 * 64 * 8


def test_trunc_powers_match_powers_of_the_truncation():
    from privformers.mpc.protocols.fused import trunc_powers

    g = torch.Generator().manual_seed(3)
    x = torch.rand(400, generator=g) * 3 - 1.5

    def fn(a):
        z, (z2, z3) = trunc_powers(_raw(a, a), F, 3)  # z = x^2
        return z + trunc(z2) + trunc(trunc(z3), F)

    out, _ = run_on_secret(fn, x)
    ref = x**2 + x**4 + x**6
    assert (out - ref).abs().max() < 2e-3
    cost = cost_of(lambda a: trunc_powers(a, 3, 4)[1][-1], x)
    assert cost["client"]["rounds"] == 1
