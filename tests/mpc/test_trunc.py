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


def test_trunc_square_gives_truncation_and_its_square_in_one_round():
    from privformers.mpc.protocols.trunc_square import trunc_square
    from tests.mpc.helpers import cost_of

    x = torch.randn(1000, dtype=torch.float64) * 3
    xe = torch.round(x * 2**16).long() * (1 << 16)  # at scale 2^32: truncating by 16 gives x again

    def program(party: Party, _):
        s = share_input(party, CLIENT, xe, (1000,), encode=False)
        z, z_sq = trunc_square(s, 16)
        return open_to(z, CLIENT), open_to(z_sq, CLIENT)

    z, z_sq = run_local(program).results["client"]
    assert int((z - xe // (1 << 16)).abs().max()) <= 1
    assert torch.equal(z_sq, z * z)
    cost = cost_of(lambda a: trunc_square(a.lshift(16), 16)[1], x)
    assert cost["client"]["rounds"] == 1 and cost["client"]["bytes"] == 8 * 1000
