"""Comparison by function secret sharing: exact, and within the cost targets."""

import pytest
import torch

from privformers.mpc.protocols.compare import ltz
from tests.mpc.helpers import cost_of, run_on_secret


@pytest.mark.parametrize("bits", [64, 40, 20])
def test_ltz_exact_including_edges(bits):
    g = torch.Generator().manual_seed(bits)
    lim = 1 << (bits - 1)
    x = torch.randint(-lim, lim - 1, (5000,), generator=g)
    edges = torch.tensor([0, 1, -1, lim - 1, -lim, 2, -2])
    x = torch.cat([x, edges])
    out, _ = run_on_secret(lambda a: ltz(a, bits), x, encode=False)
    # run_on_secret decodes with 2^-16; the result is an integer bit
    got = torch.round(out * (1 << 16)).long()
    assert torch.equal(got, (x < 0).long())


def test_ltz_cost_within_targets():
    x = torch.randn(1000, dtype=torch.float64)
    c64 = cost_of(lambda a: ltz(a), x)
    c32 = cost_of(lambda a: ltz(a, 32), x)
    for role in ("client", "server"):
        assert c64[role]["rounds"] == 1 and c64[role]["bytes"] == 8 * 1000   # <= 24 B, <= 2 rounds
        assert c32[role]["rounds"] == 1 and c32[role]["bytes"] == 4 * 1000
