"""Comparison by function secret sharing: exact, and within the cost targets."""

import numpy as np
import pytest
import torch
from scipy import stats

from privformers.mpc.party import SERVER
from privformers.mpc.protocols import compare
from privformers.mpc.protocols.compare import below_thresholds, ltz
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


def test_below_thresholds_matches_one_comparison_per_threshold():
    """[x < t_j] for every threshold, edges included, from one opening of x."""
    bits = 40
    g = torch.Generator().manual_seed(3)
    t = torch.tensor([0, 1, -1, 1 << 20, -(1 << 30), 12345])
    x = torch.cat([torch.randint(-(1 << 36), 1 << 36, (2000,), generator=g), t, t + 1, t - 1])
    out, _ = run_on_secret(lambda a: below_thresholds(a, t, bits), x, encode=False)
    got = torch.round(out * (1 << 16)).long()
    assert got.shape == (len(t), len(x))
    assert torch.equal(got, (x.unsqueeze(0) < t.unsqueeze(1)).long())


def test_below_thresholds_costs_one_opening_whatever_the_count():
    x = torch.randn(500, dtype=torch.float64)
    one = cost_of(lambda a: below_thresholds(a, torch.tensor([0]), 40), x)
    many = cost_of(lambda a: below_thresholds(a, torch.arange(64) << 16, 40), x)
    for role in ("client", "server"):
        assert many[role] == one[role] == {"bytes": 8 * 500, "rounds": 1, "offline_bytes": 0}


def _opened_by_server(secret: float, runs: int) -> np.ndarray:
    """The value c = x + r the server opens in ``below_thresholds``, over many runs (its bits 8-23)."""
    seen: list[int] = []

    def spy(x, party, n, _orig=compare.open_low_bits):
        c = _orig(x, party, n)
        if party.role == SERVER:
            seen.extend(c.reshape(-1).tolist())
        return c

    x = torch.full((8,), secret, dtype=torch.float64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compare, "open_low_bits", spy)
        for _ in range(runs):
            run_on_secret(lambda a: below_thresholds(a, torch.tensor([0, 1 << 16]), 40), x)
    return (np.array(seen, dtype=np.int64) >> 8) & 0xFFFF


def test_what_the_server_opens_is_independent_of_the_secret():
    a, b = _opened_by_server(1.3, 30), _opened_by_server(-5.7, 30)
    assert len(a) == len(b) == 240
    assert stats.ks_2samp(a, b).pvalue > 1e-3


@pytest.mark.parametrize("n", [1, 256, 257, 16384, 16385])
def test_every_tree_shape_compares_exactly(n):
    """Batches on either side of each switch of ``radix_bits_for`` (16-ary, 4-ary, binary keys) give [x < 0]."""
    assert compare.radix_bits_for(n) == (4 if n <= 256 else 2 if n <= 16384 else 1)
    g = torch.Generator().manual_seed(n)
    x = torch.randint(-(1 << 30), 1 << 30, (n,), generator=g)
    x[: min(n, 3)] = torch.tensor([0, -1, 1])[: min(n, 3)]
    out, _ = run_on_secret(lambda a: ltz(a, 32), x, encode=False)
    assert torch.equal(torch.round(out * (1 << 16)).long(), (x < 0).long())
