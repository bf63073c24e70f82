"""Data-parallel DP on two gloo ranks equals one process on the same logical batches.

One spawn of two ranks runs every scenario (process start-up dominates): three private steps in each
clipping mode, a step whose noise is measured, and the shared Poisson sampler. The one-process
references run in the test process with the same seeded test stream (every AES-CTR key pinned).
"""

from __future__ import annotations

import math

import pytest
import torch

import privformers.dp.noise as noise
from privformers.dp import PrivacyEngine
from privformers.dp.clipping import CLIPPING_MODES
from privformers.dp.distributed import owned_range
from privformers.dp.sampling import DistributedPoissonSampler, PoissonBatchSampler
from tests.dp._ranks import KEY, pin_streams, run_ranks
from tests.dp._tiny_models import make

STEPS = [[0, 1, 2], [1], [2, 0]]    # logical batches; in step 2 rank 1's share is empty
SETTINGS = dict(batch_size=2, sample_size=40, steps=10, max_grad_norm=3.2, noise_multiplier=0.7)
SIGMA, TINY_CLIP = 2.0, 1e-8


def _train(model, loss_fn, mode: str, shares) -> tuple[list[torch.Tensor], dict, torch.Tensor]:
    """Three private SGD steps on ``shares`` (this process's part of each logical batch)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    engine = PrivacyEngine(model, clipping_mode=mode, **SETTINGS)
    engine.attach(optimizer)
    norms = []
    for rows in shares:
        if rows:
            optimizer.step(loss=loss_fn(model, rows))
            norms.append(engine.last_norms)
        else:
            optimizer.step()  # empty share: still part of the step's all-reduce
        optimizer.zero_grad(set_to_none=True)
    return [p.detach().clone() for p in model.parameters()], engine.get_privacy_spent(), torch.cat(norms)


def _ranks_scenarios(rank: int, world: int) -> dict:
    import privformers.mpc.prg as prg

    noise.WORKERS = 1           # each rank fills its range from one stream, keyed like the reference's
    fresh_keys = prg.new_seed
    pin_streams()
    out = {"trained": {}}
    for mode in CLIPPING_MODES:
        model, loss_fn = make("gpt2-tied")
        out["trained"][mode] = _train(model, loss_fn, mode, [rows[rank::world] for rows in STEPS])[:2]
    prg.new_seed = fresh_keys   # the noise measured below and the sampler: real os.urandom keys
    model, loss_fn = make("gpt2-tied")
    engine = PrivacyEngine(model, batch_size=3, sample_size=40, steps=1, max_grad_norm=TINY_CLIP,
                           noise_multiplier=SIGMA)
    engine.record(len(STEPS[0][rank::world]))
    engine.private_gradients(loss_fn(model, STEPS[0][rank::world]))
    out["noisy_grad"] = torch.cat([p.grad.flatten() for p in engine.params]) * engine.batch_size
    sampler = DistributedPoissonSampler(60, 0.1, steps=40)
    out["shares"], out["sizes"] = [], []
    for share in sampler:
        out["shares"].append(share)
        out["sizes"].append(sampler.last_batch_size)
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    return run_ranks(_ranks_scenarios, 2, tmp_path_factory.mktemp("ranks"))


@pytest.mark.parametrize("mode", CLIPPING_MODES)
def test_two_ranks_equal_one_process_after_three_steps(ranks, mode, monkeypatch):
    """Parameters after 3 steps (noise from the same seeded stream) and epsilon equal one process's."""
    monkeypatch.setattr(noise, "WORKERS", 2)          # one process cuts its draw where the two ranks do
    monkeypatch.setattr(noise, "PARALLEL_FROM", 0)
    pin_streams(monkeypatch)
    model, loss_fn = make("gpt2-tied")
    start = [p.detach().clone() for p in model.parameters()]
    params, spent, norms = _train(model, loss_fn, mode, STEPS)
    assert (norms > SETTINGS["max_grad_norm"]).any() and (norms < SETTINGS["max_grad_norm"]).any()
    for rank_params, rank_spent in (r["trained"][mode] for r in ranks):
        for got, want, before in zip(rank_params, params, start):
            torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
            assert not torch.equal(got, before)
        assert rank_spent == spent
    # the noise is really in there: another key moves the parameters elsewhere
    monkeypatch.setattr("privformers.mpc.prg.new_seed", lambda: bytes(32))
    other, _, _ = _train(make("gpt2-tied")[0], loss_fn, mode, STEPS)
    assert max((a - b).abs().max().item() for a, b in zip(other, params)) > 1e-3


def test_summed_noise_has_variance_sigma_squared_c_squared(ranks):
    """One N(0, sigma^2 C^2) draw per coordinate in the sum: not 2x the variance, not half, in both
    ranks' ranges, and the same gradient on both ranks."""
    grad0, grad1 = (r["noisy_grad"] for r in ranks)
    torch.testing.assert_close(grad0, grad1, atol=0, rtol=0)
    std = SIGMA * TINY_CLIP
    assert abs(grad0.std().item() / std - 1) < 0.05
    for r in range(2):
        start, stop = owned_range(grad0.numel(), r, 2)
        assert abs(grad0[start:stop].std().item() / std - 1) < 0.07
    assert abs(grad0.mean().item()) < 4 * std / math.sqrt(grad0.numel())


def test_shared_poisson_sampler_splits_one_batch_over_the_ranks(ranks):
    """Every step's shares are disjoint, their union has the logical batch size both ranks saw, and the
    logical batch has the expected size q N on average."""
    sizes = []
    for step, (a, b) in enumerate(zip(ranks[0]["shares"], ranks[1]["shares"])):
        assert not set(a) & set(b)
        assert ranks[0]["sizes"][step] == ranks[1]["sizes"][step] == len(a) + len(b)
        assert abs(len(a) - len(b)) <= 1
        sizes.append(len(a) + len(b))
    assert abs(sum(sizes) / len(sizes) - 6) < 5 * math.sqrt(6 / len(sizes))
    assert 0 in [len(b) for b in ranks[1]["shares"]] or min(sizes) > 0


def test_shares_are_the_single_process_batch_cut_round_robin():
    """With one key, rank r of w takes selected[r::w] of the same mask that one process would use."""
    whole = DistributedPoissonSampler(200, 0.2, steps=5, key=KEY)
    parts = [DistributedPoissonSampler(200, 0.2, steps=5, key=KEY) for _ in range(3)]
    for r, s in enumerate(parts):
        s.rank, s.world = r, 3
    for batch, *shares in zip(whole, *parts):
        assert sorted(sum(shares, [])) == batch and [len(s) for s in shares] == [len(batch[r::3]) for r in range(3)]
    assert len(whole) == 5 and len(PoissonBatchSampler(200, 0.2)) == len(DistributedPoissonSampler(200, 0.2, key=KEY))
