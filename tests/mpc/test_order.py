"""Opened comparisons between shuffled elements: exact sorts and top-k (ties by position), costs as the
plans say, and a transcript that does not depend on the values."""

import numpy as np
import pytest
import torch
from scipy import stats

from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols import order
from privformers.mpc.protocols.inputs import share_input
from privformers.mpc.protocols.open import open_
from privformers.mpc.protocols.order import (
    distinct_keys,
    index_bits,
    merge_sort,
    merge_sort_cost,
    top,
    top_cost,
    top_sorted,
    top_sorted_cost,
)
from privformers.mpc.protocols.shuffle import shuffle
from privformers.mpc.session import run_local
from privformers.mpc.shares import AShare


def _ranked(x: torch.Tensor, fn, shuffled: bool = True):
    """(positions from fn, opened values they index, online cost of fn per party) on client-held x."""

    def run(party: Party, _):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        if shuffled:
            a, _ = shuffle(a)
        before = party.meter.snapshot()
        pos = fn(a)
        after = party.meter.snapshot()
        cost = {k: sum(v for key, v in after[k].items() if key.startswith("online/"))
                - sum(v for key, v in before[k].items() if key.startswith("online/")) for k in ("rounds", "bytes")}
        return pos, open_(a), cost

    out = run_local(run)
    pos, vals, cost = out.results[CLIENT]
    assert out.results[SERVER][2] == cost
    return pos, vals, cost


def _expect_ranked(pos: torch.Tensor, vals: torch.Tensor) -> None:
    """pos lists positions by value, highest first, ties by position (lowest first)."""
    n = vals.shape[1]
    key = vals * n + (n - 1 - torch.arange(n))          # exact ranks: value, then earlier position first
    expect = key.argsort(1, descending=True)[:, :pos.shape[1]]
    assert torch.equal(pos, expect)


@pytest.mark.parametrize("rows,n,k", [(3, 64, 5), (2, 37, 10), (2, 100, 50), (1, 7, 3), (2, 33, 33), (1, 1, 1),
                                      (1, 2, 1)])
def test_top_sorted_and_merge_sort_exact(rows, n, k):
    g = torch.Generator().manual_seed(n + k)
    x = torch.round(torch.randn(rows, n, generator=g, dtype=torch.float64) * 2) / 2   # many ties
    for fn in (lambda a: top_sorted(a, k, 40), lambda a: merge_sort(a, 40), lambda a: top(a, k, 40)):
        pos, vals, _ = _ranked(x, fn)
        _expect_ranked(pos, vals)


def test_costs_match_the_plans():
    """Per stage 2 rounds; per comparison 8 bytes (bits > 32) or 4 (bits <= 32) + 1/8 (the opened bit)."""
    x = torch.randn(3, 200, dtype=torch.float64)
    for bits, word in ((40, 8), (32, 4)):
        for fn, plan in ((lambda a, b=bits: top_sorted(a, 12, b), top_sorted_cost(200, 12)),
                         (lambda a, b=bits: merge_sort(a, b), merge_sort_cost(200))):
            _, _, cost = _ranked(x, fn)
            comparisons, stages = plan
            assert cost["rounds"] == 2 * stages
            assert word * 3 * comparisons <= cost["bytes"] <= (word + 1) * 3 * comparisons


def test_gpt2_vocabulary_top50_plan():
    """The plan for GPT-2's vocabulary and k = 50: about V + 25k comparisons in 21 stages."""
    assert top_cost(50257, 50) == (75932, 21)
    assert top_cost(64, 64) == (2016, 1)                                      # a short row: all pairs at once
    assert top_cost(4096, 4096) == merge_sort_cost(4096) == (159744, 78)      # a long one: fewer comparisons


def _transcripts(x: torch.Tensor, shuffled: bool = True, keys: bool = True) -> np.ndarray:
    """Per row, the first stage's opened bits (as an integer) and the shuffled position of the top element,
    for the top 3 of distinct keys (``distinct_keys``) or of the bare values (ties by position)."""
    seen: list[torch.Tensor] = []
    original = order.open_bits

    def spy(b, _orig=original):
        out = _orig(b)
        if b.party.role == CLIENT and b.party.mode == "online" and not seen:
            seen.append(out)
        return out

    def run(party: Party, _):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        if shuffled:
            a, ids = shuffle(a)
        else:
            ids = AShare(party, torch.zeros_like(a.data)).add_public(torch.arange(x.shape[1]).expand(x.shape))
        width = 40 + index_bits(x.shape[1]) if keys else 40
        return top_sorted(distinct_keys(a, ids) if keys else a, 3, width)

    order.open_bits = spy
    try:
        pos = run_local(run).results[CLIENT]
    finally:
        order.open_bits = original
    first = seen[0].to(torch.int64)
    code = (first * (1 << torch.arange(first.shape[1]))).sum(1)
    return np.stack([code.numpy(), pos[:, 0].numpy()], 1)


def _same(ta: np.ndarray, tb: np.ndarray) -> float:
    codes = np.union1d(ta, tb)
    return float(stats.chi2_contingency(np.array([[np.sum(t == c) for c in codes] for t in (ta, tb)])).pvalue)


def test_opened_comparisons_do_not_depend_on_the_values():
    """Two rows with different values and ties: with distinct keys the opened transcript has one distribution
    and the top element's shuffled position is uniform. Negative controls: without the shuffle the same tests
    reject; and with ties left to the shuffled position, eight equal values always open the same bits."""
    a = torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    b = torch.tensor([0.5, 0.25, 0.0, 7.0, 7.0, 7.0, -1.0, 2.0])
    ta, tb = _transcripts(a.expand(1500, 8)), _transcripts(b.expand(1500, 8))
    assert stats.chisquare(np.bincount(ta[:, 1], minlength=8)).pvalue > 1e-3
    assert _same(ta[:, 0], tb[:, 0]) > 1e-3
    la, lb = _transcripts(a.expand(300, 8), shuffled=False), _transcripts(b.expand(300, 8), shuffled=False)
    assert stats.chisquare(np.bincount(la[:, 1], minlength=8)).pvalue < 1e-6
    assert _same(la[:, 0], lb[:, 0]) < 1e-6
    flat = torch.zeros(300, 8)
    assert _same(_transcripts(flat, keys=False)[:, 0], ta[:300, 0]) < 1e-6     # position tie-break leaks ties
    assert _same(_transcripts(flat)[:, 0], ta[:300, 0]) > 1e-3                  # distinct keys do not
