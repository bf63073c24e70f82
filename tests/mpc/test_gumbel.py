"""Dealer-drawn Gumbel noise: the right distribution, scaled, and not from torch's generator."""

import torch
from scipy import stats

from privformers.mpc.party import CLIENT, Party
from privformers.mpc.protocols.gumbel import GUMBEL_MAX, GUMBEL_MIN, gumbel
from privformers.mpc.protocols.inputs import reveal_to
from privformers.mpc.session import run_local


def _noise(n: int, scale: float) -> torch.Tensor:
    def run(party: Party, _):
        return reveal_to(gumbel(party, (n,), scale), CLIENT)

    return run_local(run).results[CLIENT]


def test_gumbel_distribution_and_scale():
    g = _noise(20000, 1.0).numpy()
    assert GUMBEL_MIN <= g.min() and g.max() <= GUMBEL_MAX
    assert stats.kstest(g, stats.gumbel_r.cdf).pvalue > 1e-3
    assert stats.kstest(g, stats.gumbel_r(loc=0.1).cdf).pvalue < 1e-6   # the test can reject
    h = _noise(20000, 0.7).numpy()
    assert stats.kstest(h, stats.gumbel_r(scale=0.7).cdf).pvalue > 1e-3


def test_gumbel_not_from_torch_generator():
    draws = []
    for _ in range(2):
        torch.manual_seed(0)
        draws.append(_noise(16, 1.0))
    assert not torch.equal(draws[0], draws[1])
