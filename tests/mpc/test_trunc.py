"""Truncation never fails, at any supported precision (acceptance: 10^6 products at f = 16, 20, 24)."""

import pytest
import torch

from privformers.mpc.party import CLIENT, Party
from privformers.mpc.protocols.inputs import share_input
from privformers.mpc.protocols.open import open_to
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.session import run_local


@pytest.mark.parametrize("frac_bits", [12, 16, 20, 24])
def test_truncated_products_are_within_4_ulp(frac_bits):
    n = 1_000_000
    g = torch.Generator().manual_seed(frac_bits)
    x = torch.randn(n, generator=g, dtype=torch.float64) * 8
    y = torch.randn(n, generator=g, dtype=torch.float64) * 8
    scale = 1 << frac_bits
    xe, ye = torch.round(x * scale).long(), torch.round(y * scale).long()
    prod = xe * ye  # the exact product at scale 2^(2f), as a secret input

    def program(party: Party, _):
        s = share_input(party, CLIENT, prod, (n,), encode=False)
        return open_to(trunc(s), CLIENT)

    got = run_local(program, frac_bits=frac_bits).results["client"]
    exact = torch.div(prod, scale, rounding_mode="floor")
    err = (got - exact).abs()
    assert int(err.max()) <= 1  # floor or floor + 1: at most 1 ulp, never a wrap-around failure
    real_err = ((got.double() / scale) - (xe.double() * ye.double()) / scale**2).abs()
    assert float(real_err.max()) <= 4 / scale


def test_truncation_handles_extremes():
    vals = torch.tensor([0, 1, -1, (1 << 61), -(1 << 61), (1 << 62) - 1, -(1 << 62)], dtype=torch.int64)

    def program(party: Party, _):
        s = share_input(party, CLIENT, vals, tuple(vals.shape), encode=False)
        return open_to(trunc(s, 16), CLIENT)

    for _ in range(20):
        got = run_local(program).results["client"]
        exact = torch.div(vals, 1 << 16, rounding_mode="floor")
        assert int((got - exact).abs().max()) <= 1
