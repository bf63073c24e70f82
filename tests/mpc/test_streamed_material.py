"""Streamed material: the offline pass runs in a thread a bounded number of bytes ahead of the online
pass; results equal the precomputed run, the bound holds, and failures on either side surface."""

from __future__ import annotations

import threading

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from privformers.mpc.material import MaterialQueue, correlated
from privformers.mpc.party import DEALER, SERVER
from privformers.mpc.session import Program, run_local
from privformers.secure.runtime import secure_run

CFG = BertConfig(vocab_size=101, hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=64, num_labels=2, initializer_range=0.5, attn_implementation="eager")
IDS = torch.randint(3, 101, (1, 12), generator=torch.Generator().manual_seed(5))


def _factory() -> torch.nn.Module:
    return BertForSequenceClassification(CFG).eval()


def test_streamed_forward_equals_plaintext_and_holds_little_material() -> None:
    torch.manual_seed(0)
    weights = _factory().state_dict()
    model = _factory()
    model.load_state_dict(weights)
    expected = model(input_ids=IDS).logits
    full = secure_run(_factory, weights, input_ids=IDS)
    budget = 64 << 10
    streamed = secure_run(_factory, weights, material_budget=budget, input_ids=IDS)
    err = (streamed.results["client"] - expected).abs().max().item()
    assert err <= 1e-2, err
    # the same protocol messages either way: online bytes and rounds do not change
    for role in ("client", "server"):
        assert streamed.meters[role].summary()["online_bytes"] == full.meters[role].summary()["online_bytes"]
        assert streamed.meters[role].summary()["online_rounds"] == full.meters[role].summary()["online_rounds"]
        stream = streamed.parties[role].material_stream
        # an item larger than the budget is let through alone: the bound is max(budget, largest item)
        assert 0 < stream["peak"] <= max(budget, stream["largest"]), stream
        assert stream["peak"] * 4 < stream["total"], stream   # far less than the whole pass's material


def test_material_queue_bounds_the_producer_and_passes_failures() -> None:
    queue = MaterialQueue(budget=100)
    queue.append((torch.zeros(10, dtype=torch.int64),))   # 80 bytes
    blocked = threading.Event()
    done = threading.Event()

    def producer() -> None:
        blocked.set()
        queue.append((torch.zeros(10, dtype=torch.int64),))  # would make 160 > 100: waits
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    blocked.wait()
    assert not done.wait(0.2)           # still waiting for room
    queue.popleft()
    assert done.wait(5)
    t.join()
    queue.popleft()
    queue.finish(ValueError("dealer vanished"))
    with pytest.raises(RuntimeError, match="offline pass failed: dealer vanished"):
        queue.popleft()
    queue.cancel()


def test_offline_pass_cannot_use_the_peer_link_when_streamed() -> None:
    """A program whose offline pass talks to the other computing party cannot stream: clear error."""

    def run(party, _state):
        if party.role == SERVER and party.mode == "offline":
            party.send("client", torch.zeros(1, dtype=torch.int64))
        (r,), _ = correlated(party, [(4,)], lambda rs: [rs[0] * 2])
        return None if party.role == DEALER else r.data.shape

    with pytest.raises(RuntimeError, match="offline pass .* may not use the client's link"):
        run_local(Program(run=run, material_budget=1 << 20), timeout=10)


def test_a_dealer_failing_mid_stream_ends_the_run_with_an_error_not_a_hang() -> None:
    def run(party, _state):
        for i in range(6):
            if party.role == DEALER and i == 3:
                raise ConnectionError("dealer lost its key generator")
            (r,), _ = correlated(party, [(64,)], lambda rs: [rs[0] * 2])
        return None

    with pytest.raises(RuntimeError, match="failed"):
        run_local(Program(run=run, material_budget=256), timeout=10)
