"""Tests for the DCF over 4- and 16-ary trees: correctness, one-key pseudorandomness, randomness, wire form."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from privformers.mpc.fss import dcf_eval, dcf_keygen
from privformers.mpc.fss.radix_dcf import RadixDCFKey, levels_for, radix_dcf_eval, radix_dcf_keygen
from tests.mpc.fss.share_checks import assert_share_looks_uniform

RADIX = [2, 4]
N_BITS = [1, 2, 3, 5, 8, 21, 31, 33, 63, 64]


def _rand_u64(n: int, n_bits: int) -> np.ndarray:
    v = np.frombuffer(os.urandom(8 * n), dtype=np.uint64).copy()
    return v >> np.uint64(64 - n_bits) if n_bits < 64 else v


def _reconstruct(k0: RadixDCFKey, k1: RadixDCFKey, x: np.ndarray) -> np.ndarray:
    return radix_dcf_eval(0, k0, x) + radix_dcf_eval(1, k1, x)


def _plain(alpha: np.ndarray, beta: np.ndarray | np.uint64, x: np.ndarray) -> np.ndarray:
    return np.where(x < alpha, beta, np.uint64(0)).astype(np.uint64)


@pytest.mark.parametrize("k", RADIX)
@pytest.mark.parametrize("n_bits", N_BITS)
def test_correct_on_random_and_edge_cases(k: int, n_bits: int) -> None:
    """beta [x < alpha] for x at alpha, alpha -+ 1, 0, the top and random, with alpha random, 0 and the top."""
    n = 200
    top = np.uint64((1 << n_bits) - 1) if n_bits < 64 else np.uint64(2**64 - 1)
    for alpha in (_rand_u64(n, n_bits), np.zeros(n, np.uint64), np.full(n, top)):
        beta = _rand_u64(n, 64) | np.uint64(1)
        k0, k1 = radix_dcf_keygen(alpha, beta, n_bits, k)
        below = np.where(alpha > 0, alpha - np.uint64(1), alpha)
        above = np.where(alpha < top, alpha + np.uint64(1), alpha)
        xs = [alpha, below, above, np.zeros(n, np.uint64), np.full(n, top), _rand_u64(n, n_bits)]
        for x in xs:
            assert np.array_equal(_reconstruct(k0, k1, x), _plain(alpha, beta, x))
        # one key serves several points: row j of the (r, n) view with key j
        x = np.stack(xs)
        assert np.array_equal(_reconstruct(k0, k1, x), _plain(alpha, beta, x))


@pytest.mark.parametrize("k", RADIX)
@pytest.mark.parametrize("n_bits", [1, 2, 3, 4, 5])
def test_exhaustive_small_domains(k: int, n_bits: int) -> None:
    """Every (alpha, x) pair of a small domain (digits padded at the top when k does not divide n_bits)."""
    dom = np.arange(1 << n_bits, dtype=np.uint64)
    alpha, x = (g.reshape(-1) for g in np.meshgrid(dom, dom, indexing="ij"))
    k0, k1 = radix_dcf_keygen(alpha, -1, n_bits, k)
    assert np.array_equal(_reconstruct(k0, k1, x), _plain(alpha, np.uint64(2**64 - 1), x))


@pytest.mark.parametrize("k", RADIX)
def test_equals_the_binary_dcf(k: int) -> None:
    """The same comparisons as the binary tree, with shapes kept, on 31-bit inputs (GeLU's width)."""
    alpha, x = _rand_u64(300, 31).reshape(3, 100), _rand_u64(300, 31).reshape(3, 100)
    b0, b1 = dcf_keygen(alpha, 5, 31)
    r0, r1 = radix_dcf_keygen(alpha, 5, 31, k)
    y = _reconstruct(r0, r1, x)
    assert y.shape == (3, 100)
    assert np.array_equal(y, dcf_eval(0, b0, x) + dcf_eval(1, b1, x))


@pytest.mark.parametrize("k", RADIX)
def test_single_key_output_looks_uniform(k: int) -> None:
    """Each party's share alone is uniform whether x is below alpha or not, and never tracks the result."""
    n = 25600
    alpha = np.full(n, np.uint64(100), np.uint64)
    x = np.where(np.arange(n) % 2 == 0, np.uint64(3), np.uint64(200))
    k0, k1 = radix_dcf_keygen(alpha, 1, 31, k)
    plain = _plain(alpha, np.uint64(1), x)
    for party, key in ((0, k0), (1, k1)):
        assert_share_looks_uniform(radix_dcf_eval(party, key, x), x < alpha, plain)
    assert np.array_equal(_reconstruct(k0, k1, x), plain)


@pytest.mark.parametrize("k", RADIX)
def test_correction_words_do_not_point_at_alpha(k: int) -> None:
    """The keep child's seed correction is fresh randomness: no slot of a level stands out (equal slots,
    zero slots, or a slot equal to the XOR of the others would give alpha's digit away)."""
    alpha = np.full(4000, np.uint64(0b1011_0110), np.uint64)
    k0, _ = radix_dcf_keygen(alpha, 1, 8, k)
    r = 1 << k
    digit0 = int(alpha[0]) >> (8 - k)
    scw = k0.scw[0]                                   # (n, r, 2)
    for c in range(r):
        others = [scw[:, j] for j in range(r) if j != c]
        assert not np.any(np.all(scw[:, c] == 0, axis=1))
        for o in others:
            assert not np.any(np.all(scw[:, c] == o, axis=1))
    # the control corrections of each slot are fair coins, the keep slot's included
    for c in range(r):
        assert abs(k0.tcw[0][:, c].mean() - 0.5) < 0.04, (c, digit0)


def test_rng_is_the_only_randomness_and_keys_are_fresh() -> None:
    """A deterministic stream gives identical keys (32 bytes of roots and 16 per non-final level per element);
    the default CSPRNG gives fresh ones."""
    calls: list[int] = []

    def stream(nbytes: int) -> bytes:
        calls.append(nbytes)
        return hashlib.shake_256(b"radix-stream").digest(nbytes)

    alpha = _rand_u64(50, 24)
    a0, a1 = radix_dcf_keygen(alpha, 9, 24, 4, rng=stream)
    b0, _ = radix_dcf_keygen(alpha, 9, 24, 4, rng=stream)
    assert calls == [50 * (32 + 16 * (levels_for(24, 4) - 1))] * 2
    for name, arr in a0.to_arrays().items():
        assert np.array_equal(arr, b0.to_arrays()[name]), name
    c0, _ = radix_dcf_keygen(alpha, 9, 24, 4)
    assert not np.array_equal(a0.seed, c0.seed) and not np.array_equal(a0.scw, c0.scw)
    assert not np.any(np.all(a0.seed == a1.seed, axis=1))


def test_wire_roundtrip_validation_and_broken_keys() -> None:
    """from_arrays round-trips through bytes and refuses wrong shapes; corrupted or swapped keys fail."""
    n, nb = 60, 31
    alpha, x = _rand_u64(n, nb), _rand_u64(n, nb)
    k0, k1 = radix_dcf_keygen(alpha, 11, nb, 4)
    lv = levels_for(nb, 4)                       # 8 levels of 16 children: seed, (seed + bit) corrections, values
    assert k0.nbytes == n * (16 + (lv - 1) * 16 * (16 + 1) + lv * 16 * 8)
    wire = {name: (a.dtype.str, a.shape, a.tobytes()) for name, a in k1.to_arrays().items()}
    back = RadixDCFKey.from_arrays(nb, 4, {name: np.frombuffer(b, dtype=d).reshape(s)
                                           for name, (d, s, b) in wire.items()})
    want = _plain(alpha, np.uint64(11), x)
    assert np.array_equal(radix_dcf_eval(0, k0, x) + radix_dcf_eval(1, back, x), want)
    bad = k1.to_arrays()
    bad["vcw"] = bad["vcw"][:-1]
    with pytest.raises(ValueError):
        RadixDCFKey.from_arrays(nb, 4, bad)
    with pytest.raises(ValueError):
        RadixDCFKey.from_arrays(nb, 2, k1.to_arrays())       # a key for another tree shape
    assert not np.array_equal(radix_dcf_eval(1, k0, x) + radix_dcf_eval(0, k1, x), want)
    k0.vcw[0] += np.uint64(1)
    k1.vcw[0] += np.uint64(1)
    assert not np.any(_reconstruct(k0, k1, x) == want)     # level 0 is on every path with t0 != t1


def test_input_validation() -> None:
    with pytest.raises(ValueError):
        radix_dcf_keygen(np.array([256], np.uint64), 1, 8, 4)
    with pytest.raises(ValueError):
        radix_dcf_keygen(np.array([1], np.uint64), 1, 8, 3)
    with pytest.raises(ValueError):
        radix_dcf_keygen(np.array([1], np.uint64), 1, 0, 4)
    k0, _ = radix_dcf_keygen(np.array([5, 6], np.uint64), 1, 8, 4)
    with pytest.raises(ValueError):
        radix_dcf_eval(0, k0, np.array([300, 1], np.uint64))
    with pytest.raises(ValueError):
        radix_dcf_eval(0, k0, np.array([1, 2, 3], np.uint64))
    with pytest.raises(ValueError):
        radix_dcf_eval(2, k0, np.array([1, 2], np.uint64))
