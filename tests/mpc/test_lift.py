"""Shares right mod 2^32 lifted to Z_2^64, and the 32-bit one-hot row lookup built on it."""

import threading

import numpy as np
import pytest
import torch
from scipy import stats

from privformers.mpc.meter import diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.inputs import reveal_to
from privformers.mpc.protocols.lift import LIFT_RANGE, lift32
from privformers.mpc.protocols.open import open_to
from privformers.mpc.protocols.weights import ServerWeight
from privformers.mpc.session import Program, run_local
from privformers.mpc.shares import AShare
from privformers.mpc.transport import local as local_transport


def test_lift_is_exact_over_the_whole_range_whatever_the_high_bits():
    v = torch.tensor([0, 1, -1, LIFT_RANGE - 1, -LIFT_RANGE + 1, 12345, -987654] * 3000, dtype=torch.int64)
    g = torch.Generator().manual_seed(1)
    junk = torch.randint(-2**31, 2**31, v.shape, generator=g) << 32   # arbitrary multiples of 2^32

    def program(party: Party, _):
        if party.symbolic:
            x = AShare(party, torch.zeros_like(v))
        else:
            r = party.prg[party.peer].ring(v.shape)   # both computing parties draw the same r
            x = AShare(party, (v + junk - r) if party.role == CLIENT else r)
        return open_to(lift32(x), CLIENT)

    got = run_local(program).results["client"]
    assert torch.equal(got, v)


def _table_program(w: torch.Tensor, ids: torch.Tensor, costs: dict | None = None) -> Program:
    vocab = w.shape[0]

    def setup(party: Party):
        return ServerWeight(party, w if party.role == SERVER else None, tuple(w.shape))

    def run(party: Party, table):
        before = party.meter.snapshot()
        rows = table.onehot_rows(ids if party.role == CLIENT else None, (*ids.shape, vocab))
        if costs is not None and party.mode == "online":
            d = diff(party.meter.snapshot(), before)
            costs[party.role] = (sum(d["bytes"].values()), sum(d["rounds"].values()))
        return reveal_to(rows, CLIENT)

    return Program(run=run, setup=setup)


def test_onehot_rows_give_the_table_rows_at_4_bytes_per_element():
    g = torch.Generator().manual_seed(2)
    vocab, d = 5000, 48
    w = torch.randn(vocab, d, generator=g, dtype=torch.float64) * 3
    w[7] = 2**13 - 1e-3   # near the largest supported entry at f = 16
    w[8] = -(2**13)
    ids = torch.tensor([[7, 8, 0, 4999, 123, 7]])
    costs: dict = {}
    got = run_local(_table_program(w, ids, costs)).results["client"]
    assert (got - w[ids]).abs().max() <= 2**-16
    sent_c, rounds = costs[CLIENT]
    sent_s, _ = costs[SERVER]
    assert sent_c == 4 * ids.numel() * vocab + 4 * ids.numel() * d   # masked one-hot + lift, 4 bytes each
    assert sent_s == 4 * ids.numel() * d
    assert rounds == 2


def test_onehot_rows_refuse_a_table_too_large_for_32_bits():
    w = torch.zeros(10, 4, dtype=torch.float64)
    w[3, 1] = 2**14
    with pytest.raises(Exception, match="too large for a 32-bit lookup"):
        run_local(_table_program(w, torch.tensor([1, 2])), timeout=20)


def test_onehot_rows_refuse_ids_outside_the_table():
    w = torch.zeros(10, 4, dtype=torch.float64)
    with pytest.raises(Exception, match=r"private ids must lie in \[0, 10\)"):
        run_local(_table_program(w, torch.tensor([1, 10])), timeout=20)


def _server_words(ids: torch.Tensor, w: torch.Tensor, runs: int) -> np.ndarray:
    """The first 32-bit words the server receives from the client (the masked one-hot), over runs."""
    words: list[int] = []
    original = local_transport.LocalChannel.recv

    def recv_by_thread(self, _orig=original):
        msg = _orig(self)
        if isinstance(msg, torch.Tensor) and msg.dtype == torch.int32 and self.peer == CLIENT \
                and threading.current_thread().name == "party-server" and msg.numel() == ids.numel() * w.shape[0]:
            words.extend(msg.reshape(-1)[:64].tolist())
        return msg

    local_transport.LocalChannel.recv = recv_by_thread
    try:
        for _ in range(runs):
            run_local(_table_program(w, ids))
    finally:
        local_transport.LocalChannel.recv = original
    return np.array(words, dtype=np.int64)


def test_server_view_of_the_masked_onehot_is_independent_of_the_ids():
    w = torch.randn(16, 4, dtype=torch.float64)
    a = _server_words(torch.tensor([0, 1, 2, 3]), w, 8)
    b = _server_words(torch.tensor([15, 15, 15, 15]), w, 8)
    assert len(a) >= 400 and len(b) >= 400
    # the words are uniform 32-bit values either way: a one-hot entry 1 is hidden as well as a 0
    assert stats.ks_2samp(a, b).pvalue > 1e-3
    assert stats.kstest((a + 2**31) / 2**32, "uniform").pvalue > 1e-3
