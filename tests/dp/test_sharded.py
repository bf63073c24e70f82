"""FSDP2-sharded DP training on two gloo ranks (CPU): clipping stays exact, noise is drawn once per coordinate.

A tiny random Llama is sharded per decoder layer and at the root. Without noise, three private steps
on two ranks equal one unsharded process on the same logical batches, in each mode sharding supports;
with noise, the summed gradient carries N(0, sigma^2 C^2) on every coordinate of every shard.
"""

from __future__ import annotations

import pytest
import torch

from privformers.dp import PrivacyEngine
from privformers.dp.sharded import SHARDED_CLIPPING_MODES, shard_model
from tests.dp._ranks import run_ranks
from tests.dp._tiny_models import make

STEPS = [[0, 1, 2], [1], [2, 0]]    # in step 2 rank 1 has no example and runs a zero-loss dummy batch
SETTINGS = dict(batch_size=2, sample_size=40, steps=10, noise_multiplier=0.0)
SIGMA, TINY_CLIP = 2.0, 1e-8


def _train(model, loss_fn, mode: str, shares, clip: float) -> list[torch.Tensor]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    engine = PrivacyEngine(model, clipping_mode=mode, max_grad_norm=clip, **SETTINGS)
    engine.attach(optimizer)
    for rows in shares:
        loss = loss_fn(model, rows) if rows else loss_fn(model, [0]) * 0   # the same number of passes everywhere
        optimizer.step(loss=loss)
        optimizer.zero_grad(set_to_none=True)
    return [p.full_tensor() if hasattr(p, "full_tensor") else p.detach().clone() for p in model.parameters()]


def _ranks_scenarios(rank: int, world: int, clip: float) -> dict:
    out = {}
    for mode in SHARDED_CLIPPING_MODES:
        model, loss_fn = make("llama")
        out[mode] = _train(shard_model(model), loss_fn, mode, [rows[rank::world] for rows in STEPS], clip)
    model, loss_fn = make("llama")
    shard_model(model)
    try:
        PrivacyEngine(model, clipping_mode="ghost", max_grad_norm=clip, **SETTINGS)
    except ValueError as exc:
        out["ghost_refused"] = str(exc)
    engine = PrivacyEngine(model, batch_size=3, sample_size=40, steps=1, max_grad_norm=TINY_CLIP,
                           noise_multiplier=SIGMA, clipping_mode="bk")
    rows = STEPS[0][rank::world]
    engine.record(len(rows))
    engine.private_gradients(loss_fn(model, rows))
    out["local_noise"] = torch.cat([p.grad.to_local().flatten() for p in engine.params]) * engine.batch_size
    out["full_noise"] = torch.cat([p.grad.full_tensor().flatten() for p in engine.params]) * engine.batch_size
    out["sharded"] = all(type(p).__name__ == "DTensor" for p in engine.params)
    return out


@pytest.fixture(scope="module")
def clip() -> float:
    model, loss_fn = make("llama")
    engine = PrivacyEngine(model, max_grad_norm=1.0, clipping_mode="bk", **SETTINGS)
    engine.record(3)
    engine.virtual_step(loss_fn(model, [0, 1, 2]))
    return float(engine.last_norms.median())   # some examples clipped, some not


@pytest.fixture(scope="module")
def ranks(tmp_path_factory, clip) -> list[dict]:
    return run_ranks(_ranks_scenarios, 2, tmp_path_factory.mktemp("fsdp"), clip)


@pytest.mark.parametrize("mode", SHARDED_CLIPPING_MODES)
def test_sharded_two_ranks_equal_one_unsharded_process(ranks, mode, clip):
    model, loss_fn = make("llama")
    before = [p.detach().clone() for p in model.parameters()]
    want = _train(model, loss_fn, mode, STEPS, clip)
    for r in ranks:
        assert len(r[mode]) == len(want)
        for got, expected in zip(r[mode], want):
            torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
        assert any(not torch.equal(g, b) for g, b in zip(r[mode], before))


def test_sharded_noise_is_one_draw_per_coordinate(ranks):
    assert all(r["sharded"] for r in ranks)
    std = SIGMA * TINY_CLIP
    full = ranks[0]["full_noise"]
    torch.testing.assert_close(full, ranks[1]["full_noise"], atol=0, rtol=0)
    assert abs(full.std().item() / std - 1) < 0.05
    for r in ranks:
        assert abs(r["local_noise"].std().item() / std - 1) < 0.07
    assert sum(r["local_noise"].numel() for r in ranks) == full.numel()


def test_ghost_clipping_is_refused_with_sharded_parameters(ranks):
    assert all("second backward pass" in r["ghost_refused"] and "bk" in r["ghost_refused"] for r in ranks)


def _one_rank_fsdp(rank: int, world: int, clip: float) -> list[torch.Tensor]:
    model, loss_fn = make("llama")
    return _train(shard_model(model), loss_fn, "bk", STEPS, clip)


def test_fsdp_on_a_job_of_one_rank_takes_the_sharded_path(tmp_path, clip):
    """One rank (one GPU's case): the parameters are DTensors on a 1-rank mesh, and the result is the plain
    one-process result."""
    model, loss_fn = make("llama")
    want = _train(model, loss_fn, "bk", STEPS, clip)
    (got,) = run_ranks(_one_rank_fsdp, 1, tmp_path, clip)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
