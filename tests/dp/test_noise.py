"""DP noise and Poisson sampling come from an AES-256-CTR stream keyed by os.urandom, never from torch's
generators, and have the right distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from scipy import stats

import privformers.dp.noise as noise
from privformers.dp.noise import bernoulli_mask, gaussian_like


def _fixed_urandom(monkeypatch, key: bytes) -> None:
    monkeypatch.setattr("privformers.mpc.prg.os.urandom", lambda n: key[:n])


def _reference_normals(key: bytes, n: int, skip_words: int = 0) -> np.ndarray:
    """The same draw written out from the definition: AES-256-CTR over zeros from counter 0 (after
    skip_words 64-bit words), little-endian words, k = top 52 bits with the highest flipped,
    (k + 1/2) / 2^52, Box-Muller (first half cosines, then sines)."""
    half = (n + 1) // 2
    enc = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16)).encryptor()
    words = np.frombuffer(enc.update(bytes(8 * skip_words + 16 * half)), dtype="<u8")[skip_words:]
    k = (words >> np.uint64(12)) ^ np.uint64(1 << 51)
    u = (k.astype(np.float64) + 0.5) / 2.0**52
    assert u.min() > 0 and u.max() < 1
    u1, u2 = u[:half], u[half:]
    r = np.sqrt(-2.0 * np.log(u1))
    return np.concatenate([r * np.cos(2 * math.pi * u2), r * np.sin(2 * math.pi * u2)])[:n]


def test_noise_is_the_aes_ctr_stream_keyed_by_os_urandom(monkeypatch):
    """With os.urandom pinned, the noise is exactly the Box-Muller transform of the AES-CTR stream."""
    key = bytes(range(32))
    _fixed_urandom(monkeypatch, key)
    got = gaussian_like(torch.zeros(1001, dtype=torch.float64), 2.5)
    assert torch.equal(got, gaussian_like(torch.zeros(1001, dtype=torch.float64), 2.5))
    np.testing.assert_allclose(got.numpy(), 2.5 * _reference_normals(key, 1001), rtol=1e-12, atol=1e-12)


def test_noise_never_touches_torch_generators(monkeypatch):
    """torch.manual_seed has no effect, and the draw works with torch's samplers disabled."""
    torch.manual_seed(0)
    a = gaussian_like(torch.zeros(1000), 1.0)
    torch.manual_seed(0)
    b = gaussian_like(torch.zeros(1000), 1.0)
    assert not torch.equal(a, b)

    def forbidden(*args, **kwargs):
        raise AssertionError("torch's generator was used for DP randomness")

    for name in ("normal", "randn", "rand", "randint", "bernoulli"):
        monkeypatch.setattr(torch, name, forbidden)
    assert gaussian_like(torch.zeros(10), 1.0).shape == (10,)
    assert bernoulli_mask(10, 0.5).shape == (10,)


def test_noise_is_normal_with_the_asked_std_dtype_and_shape(monkeypatch):
    """Kolmogorov-Smirnov against N(0, std^2) over blocks (a small BLOCK, an odd size); dtype and shape kept."""
    monkeypatch.setattr(noise, "BLOCK", 4097)
    x = gaussian_like(torch.zeros(3, 33333, dtype=torch.float64), 0.7)
    assert x.shape == (3, 33333) and x.dtype == torch.float64
    flat = x.flatten().numpy()
    assert stats.kstest(flat / 0.7, "norm").pvalue > 1e-3
    assert abs(flat.mean()) < 0.01 and abs(flat.std() - 0.7) < 0.01
    half = gaussian_like(torch.zeros(5, 7, dtype=torch.bfloat16), 1.0)
    assert half.dtype == torch.bfloat16 and half.shape == (5, 7)


def test_zero_std_is_exactly_zero_and_bad_std_is_refused():
    assert torch.count_nonzero(gaussian_like(torch.ones(10), 0.0)) == 0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="noise std"):
            gaussian_like(torch.ones(3), bad)


def test_bernoulli_mask_frequency_and_edges(monkeypatch):
    monkeypatch.setattr(noise, "BLOCK", 1000)
    m = bernoulli_mask(200_000, 0.05)
    assert m.dtype == torch.bool and m.shape == (200_000,)
    assert abs(m.float().mean().item() - 0.05) < 5 * math.sqrt(0.05 * 0.95 / 200_000)
    assert bernoulli_mask(100, 1.0).all() and not bernoulli_mask(100, 0.0).any()
    assert bernoulli_mask(0, 0.5).shape == (0,)
    _fixed_urandom(monkeypatch, bytes(32))
    assert torch.equal(bernoulli_mask(999, 0.3), bernoulli_mask(999, 0.3))


def test_a_large_draw_in_parallel_ranges_is_normal_and_each_range_has_its_own_stream(monkeypatch):
    """Above PARALLEL_FROM the draw is split over WORKERS threads, each keyed afresh: the ranges differ,
    and the whole is N(0, std^2)."""
    monkeypatch.setattr(noise, "PARALLEL_FROM", 1000)
    monkeypatch.setattr(noise, "WORKERS", 3)
    monkeypatch.setattr(noise, "BLOCK", 5003)
    x = gaussian_like(torch.zeros(90_000, dtype=torch.float64), 1.3).numpy()
    thirds = x.reshape(3, 30_000)
    assert not np.allclose(thirds[0], thirds[1]) and not np.allclose(thirds[1], thirds[2])
    assert stats.kstest(x / 1.3, "norm").pvalue > 1e-3
    for part in thirds:
        assert stats.kstest(part / 1.3, "norm").pvalue > 1e-4


def test_noise_for_many_tensors_is_one_draw_cut_across_them(monkeypatch):
    """gaussian_like_many: one stream runs on across tensor boundaries (single range), shapes and dtypes
    are each tensor's own, and in parallel ranges the whole is still N(0, std^2)."""
    from privformers.dp.noise import gaussian_like_many

    key = bytes(range(7, 39))
    _fixed_urandom(monkeypatch, key)
    a, b = torch.zeros(3, 5, dtype=torch.float64), torch.zeros(11, dtype=torch.float64)
    na, nb = gaussian_like_many([a, b], 1.0)
    assert na.shape == (3, 5) and nb.shape == (11,)
    # one stream: a's 15 values use 16 words (8 radii, 8 angles), then b's 11 use the next 12
    np.testing.assert_allclose(na.flatten().numpy(), _reference_normals(key, 15), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nb.numpy(), _reference_normals(key, 11, skip_words=16), rtol=1e-12, atol=1e-12)
    monkeypatch.undo()
    monkeypatch.setattr(noise, "PARALLEL_FROM", 100)
    monkeypatch.setattr(noise, "WORKERS", 4)
    shapes = [(7, 1000), (3,), (20_001,), (50, 300)]
    outs = gaussian_like_many([torch.zeros(s, dtype=torch.float32) for s in shapes], 0.5)
    assert [tuple(o.shape) for o in outs] == shapes and all(o.dtype == torch.float32 for o in outs)
    flat = torch.cat([o.flatten() for o in outs]).double().numpy()
    assert stats.kstest(flat / 0.5, "norm").pvalue > 1e-3
    assert [torch.count_nonzero(x).item() for x in gaussian_like_many([torch.ones(4), torch.ones(2)], 0.0)] == [0, 0]


def test_a_range_of_a_draw_holds_what_one_process_draws_there(monkeypatch):
    """gaussian_range: rank r of 3 filling its third of a draw from one stream gets exactly the values one
    process puts there when it cuts the same draw into 3 ranges (every stream keyed the same)."""
    from privformers.dp.distributed import owned_range
    from privformers.dp.noise import gaussian_like_many, gaussian_range

    _fixed_urandom(monkeypatch, bytes(range(3, 35)))
    monkeypatch.setattr(noise, "PARALLEL_FROM", 0)
    monkeypatch.setattr(noise, "WORKERS", 3)
    shapes = [(7, 5), (11,), (40,)]
    whole = torch.cat([t.flatten() for t in gaussian_like_many([torch.zeros(s, dtype=torch.float64)
                                                                for s in shapes], 1.5)])
    monkeypatch.setattr(noise, "WORKERS", 1)
    sizes = [math.prod(s) for s in shapes]
    for rank in range(3):
        start, stop = owned_range(sum(sizes), rank, 3)
        torch.testing.assert_close(gaussian_range(sizes, start, stop, 1.5, torch.float64), whole[start:stop],
                                   atol=0, rtol=0)
    assert torch.count_nonzero(gaussian_range(sizes, 3, 9, 0.0)) == 0
    with pytest.raises(ValueError, match="not inside"):
        gaussian_range(sizes, 5, 100, 1.0)


def test_data_parallel_noise_and_sampling_never_touch_torch_generators(monkeypatch):
    """A rank's noise range and the shared Poisson sampler use AES-CTR streams only."""
    from privformers.dp.noise import gaussian_range
    from privformers.dp.sampling import DistributedPoissonSampler

    def forbidden(*args, **kwargs):
        raise AssertionError("torch's generator was used for DP randomness")

    for name in ("normal", "randn", "rand", "randint", "bernoulli"):
        monkeypatch.setattr(torch, name, forbidden)
    assert gaussian_range([5, 7], 3, 11, 1.0).shape == (8,)
    assert len(list(DistributedPoissonSampler(20, 0.5, steps=2))) == 2
