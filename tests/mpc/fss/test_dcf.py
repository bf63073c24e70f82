"""Tests for the batched DCF: correctness incl. edge cases, one-key pseudorandomness, RNG, transport."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import torch

from privformers.mpc.fss import DCFKey, bench_dcf, dcf_eval, dcf_keygen
from tests.mpc.fss.share_checks import assert_share_looks_uniform

N_BITS = [1, 2, 8, 31, 40, 63, 64]


def _rand_u64(n: int, n_bits: int) -> np.ndarray:
    """n uniform n_bits-bit values as uint64 (from os.urandom, not numpy's RNG)."""
    v = np.frombuffer(os.urandom(8 * n), dtype=np.uint64).copy()
    return v >> np.uint64(64 - n_bits) if n_bits < 64 else v


def _reconstruct(k0: DCFKey, k1: DCFKey, x: np.ndarray) -> np.ndarray:
    """Sum of both parties' shares mod 2^64."""
    return dcf_eval(0, k0, x) + dcf_eval(1, k1, x)


def _plain(alpha: np.ndarray, beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Plaintext f(x) = beta if x < alpha else 0."""
    return np.where(x < alpha, beta, np.uint64(0)).astype(np.uint64)


def _edge_case_batch(n_bits: int, n_rand: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, x) pairs: random ones plus x in {alpha, alpha +- 1, 0, max} and alpha in {0, max}."""
    top = np.uint64((1 << n_bits) - 1)
    one = np.uint64(1)
    a = _rand_u64(n_rand, n_bits)
    alphas = [a, np.zeros(n_rand, np.uint64), np.full(n_rand, top)]
    cols_a, cols_x = [], []
    for al in alphas:
        xs = [
            al,
            np.where(al < top, al + one, al),
            np.where(al > 0, al - one, al),
            np.zeros_like(al),
            np.full_like(al, top),
            _rand_u64(n_rand, n_bits),
        ]
        for xv in xs:
            cols_a.append(al)
            cols_x.append(xv)
    return np.concatenate(cols_a), np.concatenate(cols_x)


@pytest.mark.parametrize("n_bits", N_BITS)
def test_correct_on_random_and_edge_cases(n_bits: int) -> None:
    """Reconstruction equals beta * [x < alpha] for every element, including boundary inputs."""
    alpha, x = _edge_case_batch(n_bits)
    beta = np.frombuffer(os.urandom(8 * alpha.size), dtype=np.uint64).copy()
    beta[beta == 0] = 1
    k0, k1 = dcf_keygen(alpha, beta, n_bits)
    got = _reconstruct(k0, k1, x)
    want = _plain(alpha, beta, x)
    assert np.array_equal(got, want), f"{np.sum(got != want)} mismatches"
    # the batch really exercises both outcomes
    assert 0 < np.sum(x < alpha) < x.size


@pytest.mark.parametrize("n_bits", [2, 40, 64])
def test_one_key_serves_several_points(n_bits: int) -> None:
    """x of r * N values: row j of each element is evaluated with that element's key, as r separate calls would."""
    alpha, _ = _edge_case_batch(n_bits, 50)
    beta = np.frombuffer(os.urandom(8 * alpha.size), dtype=np.uint64).copy()
    k0, k1 = dcf_keygen(alpha, beta, n_bits)
    top = np.uint64((1 << n_bits) - 1)
    rows = [alpha, np.where(alpha > 0, alpha - np.uint64(1), alpha), np.where(alpha < top, alpha + np.uint64(1), alpha),
            _rand_u64(alpha.size, n_bits)]
    x = np.stack(rows)                                   # (4, N)
    got = _reconstruct(k0, k1, x)
    assert got.shape == x.shape
    for j, row in enumerate(rows):
        assert np.array_equal(got[j], _reconstruct(k0, k1, row))
        assert np.array_equal(got[j], _plain(alpha, beta, row))


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4])
def test_exhaustive_small_domains(n_bits: int) -> None:
    """All (alpha, x) pairs of a small domain, with beta = 2^64 - 1 (i.e. -1)."""
    dom = np.arange(1 << n_bits, dtype=np.uint64)
    alpha, x = (g.reshape(-1) for g in np.meshgrid(dom, dom, indexing="ij"))
    k0, k1 = dcf_keygen(alpha, -1, n_bits)
    want = np.where(x < alpha, np.uint64(2**64 - 1), np.uint64(0))
    assert np.array_equal(_reconstruct(k0, k1, x), want)


def test_shapes_and_scalar_beta() -> None:
    """alpha/x of any shape are flattened; output has x's shape; scalar beta broadcasts (negatives wrap)."""
    alpha = _rand_u64(12, 16).reshape(3, 4)
    x = _rand_u64(12, 16).reshape(3, 4)
    k0, k1 = dcf_keygen(alpha, -5, 16)
    y = dcf_eval(0, k0, x) + dcf_eval(1, k1, x)
    assert y.shape == (3, 4)
    assert np.array_equal(y, np.where(x < alpha, np.uint64(2**64 - 5), np.uint64(0)))
    k0, k1 = dcf_keygen(alpha, np.uint64(7), 16)
    assert np.array_equal(_reconstruct(k0, k1, x), np.where(x < alpha, np.uint64(7), np.uint64(0)))


@pytest.mark.parametrize("n_bits", [8, 40, 64])
def test_single_key_output_looks_uniform(n_bits: int) -> None:
    """Each party's share alone is uniform (chi-square on low byte) and never tracks the plain result."""
    n = 25600
    alpha = np.full(n, np.uint64(100), np.uint64)
    beta = np.ones(n, np.uint64)
    x = np.where(np.arange(n) % 2 == 0, np.uint64(3), np.uint64(200))  # half below alpha, half above
    k0, k1 = dcf_keygen(alpha, beta, n_bits)
    plain = _plain(alpha, beta, x)
    for party, key in ((0, k0), (1, k1)):
        assert_share_looks_uniform(dcf_eval(party, key, x), x < alpha, plain)
    assert np.array_equal(dcf_eval(0, k0, x) + dcf_eval(1, k1, x), plain)


def test_keys_differ_in_everything_random() -> None:
    """The two parties' root seeds differ; repeated keygen for the same input gives fresh keys."""
    alpha = _rand_u64(64, 32)
    k0, k1 = dcf_keygen(alpha, 1, 32)
    assert not np.any(np.all(k0.seed == k1.seed, axis=1))
    k0b, _ = dcf_keygen(alpha, 1, 32)
    assert not np.array_equal(k0.seed, k0b.seed)
    assert not np.array_equal(k0.vcw, k0b.vcw)


def test_keygen_ignores_numpy_and_torch_global_rng() -> None:
    """Re-seeding numpy/torch identically still yields different keys, and their global state is untouched."""
    alpha = _rand_u64(32, 20)
    np.random.seed(1234)
    torch.manual_seed(1234)
    state = np.random.get_state()[1].copy()
    tstate = torch.get_rng_state().clone()
    ka, _ = dcf_keygen(alpha, 3, 20)
    assert np.array_equal(np.random.get_state()[1], state)
    assert torch.equal(torch.get_rng_state(), tstate)
    np.random.seed(1234)
    torch.manual_seed(1234)
    kb, _ = dcf_keygen(alpha, 3, 20)
    assert not np.array_equal(ka.seed, kb.seed)
    assert not np.array_equal(ka.scw, kb.scw)


def test_rng_parameter_is_the_only_randomness() -> None:
    """A deterministic byte stream gives identical keys; it is asked for exactly 32 bytes per element."""
    calls: list[int] = []

    def stream(nbytes: int) -> bytes:
        calls.append(nbytes)
        return hashlib.shake_256(b"test-stream").digest(nbytes)

    alpha = _rand_u64(50, 24)
    x = _rand_u64(50, 24)
    a0, a1 = dcf_keygen(alpha, 9, 24, rng=stream)
    b0, b1 = dcf_keygen(alpha, 9, 24, rng=stream)
    assert calls == [32 * 50, 32 * 50]
    for ka, kb in ((a0, b0), (a1, b1)):
        for name, arr in ka.to_arrays().items():
            assert np.array_equal(arr, kb.to_arrays()[name]), name
    assert np.array_equal(_reconstruct(a0, a1, x), _plain(alpha, np.uint64(9), x))


def test_transport_roundtrip_and_size() -> None:
    """to_arrays/from_arrays round-trips through raw bytes; nbytes = 24 + 25 * n_bits per element."""
    n, nb = 40, 31
    alpha, x = _rand_u64(n, nb), _rand_u64(n, nb)
    k0, k1 = dcf_keygen(alpha, 11, nb)
    assert k0.nbytes == n * (24 + 25 * nb)
    wire = {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in k1.to_arrays().items()}
    back = DCFKey.from_arrays({k: np.frombuffer(b, dtype=d).reshape(s) for k, (d, s, b) in wire.items()})
    assert np.array_equal(dcf_eval(0, k0, x) + dcf_eval(1, back, x), _plain(alpha, np.uint64(11), x))
    bad = k1.to_arrays()
    bad["vcw"] = bad["vcw"][:-1]
    with pytest.raises(ValueError):
        DCFKey.from_arrays(bad)


def test_tests_can_fail_on_broken_keys() -> None:
    """Corrupting a correction word, swapping parties or swapping keys breaks reconstruction."""
    n, nb = 200, 16
    alpha, x = _rand_u64(n, nb), _rand_u64(n, nb)
    k0, k1 = dcf_keygen(alpha, 1, nb)
    want = _plain(alpha, np.uint64(1), x)
    assert np.array_equal(_reconstruct(k0, k1, x), want)
    assert not np.array_equal(dcf_eval(1, k0, x) + dcf_eval(0, k1, x), want)
    # level 0 is on every element's evaluation path with t0 != t1, so this corrupts every output
    k0.vcw[0] += np.uint64(1)
    k1.vcw[0] += np.uint64(1)
    assert not np.any(_reconstruct(k0, k1, x) == want)
    k0.vcw[0] -= np.uint64(1)
    k1.vcw[0] -= np.uint64(1)
    # a final-correction error is only visible at x == alpha
    k0.fcw += np.uint64(1)
    k1.fcw += np.uint64(1)
    assert not np.array_equal(_reconstruct(k0, k1, alpha), _plain(alpha, np.uint64(1), alpha))


def test_input_validation() -> None:
    """Out-of-range alpha/x, bad n_bits, wrong x length and bad party are rejected."""
    with pytest.raises(ValueError):
        dcf_keygen(np.array([256], np.uint64), 1, 8)
    with pytest.raises(ValueError):
        dcf_keygen(np.array([1], np.uint64), 1, 0)
    with pytest.raises(ValueError):
        dcf_keygen(np.array([1], np.uint64), 1, 65)
    k0, _ = dcf_keygen(np.array([5, 6], np.uint64), 1, 8)
    with pytest.raises(ValueError):
        dcf_eval(0, k0, np.array([300, 1], np.uint64))
    with pytest.raises(ValueError):
        dcf_eval(0, k0, np.array([1, 2, 3], np.uint64))
    with pytest.raises(ValueError):
        dcf_eval(0, k0, np.zeros(0, np.uint64))
    with pytest.raises(ValueError):
        dcf_eval(2, k0, np.array([1, 2], np.uint64))


def test_bench_small() -> None:
    """The micro-benchmark runs and self-checks correctness."""
    r = bench_dcf(500, 40, repeats=1)
    assert r["correct"] == 1.0 and r["key_bytes_per_element"] == 24 + 25 * 40


def test_empty_batch_and_python_lists() -> None:
    """N = 0 works, and plain Python int lists are accepted for alpha, beta and x."""
    k0, k1 = dcf_keygen(np.zeros(0, np.uint64), 1, 8)
    assert dcf_eval(0, k0, np.zeros(0, np.uint64)).shape == (0,)
    k0, k1 = dcf_keygen([3, 5], [1, 2], 4)
    assert (dcf_eval(0, k0, [4, 4]) + dcf_eval(1, k1, [4, 4])).tolist() == [0, 2]


def test_blocked_evaluation_equals_one_pass_and_the_comparison():
    """Batches larger than the block run in element ranges times point groups; shares are the same."""
    rng = np.random.default_rng(7)
    n, reps, nb = 150, 5, 20
    alpha = rng.integers(0, 2**nb, n, dtype=np.uint64)
    beta = rng.integers(0, 2**63, n, dtype=np.uint64)
    k0, k1 = dcf_keygen(alpha, beta, nb)
    x = rng.integers(0, 2**nb, (reps, n), dtype=np.uint64)
    x[0] = alpha          # at the threshold: not below
    x[1] = np.maximum(alpha, 1) - 1   # just below (alpha 0: at 0)
    whole = [dcf_eval(p, k, x, block=x.size) for p, k in ((0, k0), (1, k1))]
    for block in (64, 150, 300, 7, None):   # ranges of 50; one range, 2 point groups; tiny; EVAL_BLOCK
        parts = [dcf_eval(p, k, x, block=block) for p, k in ((0, k0), (1, k1))]
        assert all(np.array_equal(a, b) for a, b in zip(parts, whole))
        assert parts[0].shape == x.shape
    want = np.where(x < alpha[None, :], beta[None, :], 0).astype(np.uint64)
    assert np.array_equal(whole[0] + whole[1], want)
    with pytest.raises(ValueError, match="block"):
        dcf_eval(0, k0, x, block=0)


def test_bench_dcf_command_reports_blocked_and_one_pass_times(capsys):
    import json

    from privformers.cli import main

    assert main(["bench", "dcf", "--shapes", "300x3x20,5x1x64", "--repeats", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["n"], r["points"], r["n_bits"]) for r in out["rows"]] == [(300, 3, 20), (5, 1, 64)]
    assert all(r["correct"] and r["eval_s"] > 0 and r["eval_one_pass_s"] > 0 for r in out["rows"])
    assert out["meta"]["eval_block"] == 16384
    for r in out["rows"]:   # the 4- and 16-ary trees, timed beside the binary one by default
        assert {"children_4", "children_16"} <= set(r)
        assert r["children_16"]["key_bytes_per_element"] > r["children_4"]["key_bytes_per_element"] > 0
    assert main(["bench", "dcf", "--shapes", "300x3"]) == 2
    assert "ELEMENTSxPOINTSxBITS" in capsys.readouterr().err
    assert main(["bench", "dcf", "--shapes", "3x1x8", "--radix-bits", "3"]) == 2
    assert "--radix-bits" in capsys.readouterr().err
