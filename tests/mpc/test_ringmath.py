"""Exact products mod 2^64 through float limbs, against torch's int64 matmul (which wraps mod 2^64)."""

from __future__ import annotations

import pytest
import torch

from privformers.mpc.ring import wrap_int
from privformers.mpc.ringmath import THREADED_WORK, PlainMatrix, RingMatrix, plain_split, ring_matmul, signed_limbs


def _ring(*shape: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(-2**63, 2**63 - 1, shape, generator=g, dtype=torch.int64)


def test_ring_matrix_products_are_exact_both_ways():
    g = torch.Generator().manual_seed(0)
    m = _ring(300, 700, g=g)
    rm = RingMatrix(m)
    assert rm.limbs.dtype == torch.float32          # 16 bytes per entry, widened per product
    a, b = _ring(5, 300, g=g), _ring(2, 3, 700, g=g)
    assert torch.equal(rm.rmatmul(a), torch.matmul(a, m))
    assert torch.equal(rm.rmatmul(b, transpose=True), torch.matmul(b, m.t()))
    assert torch.equal(rm.value(), m)


def test_ring_matmul_of_two_ring_tensors_is_exact():
    g = torch.Generator().manual_seed(1)
    a, b = _ring(4, 64, 128, g=g), _ring(4, 128, 96, g=g)
    assert torch.equal(ring_matmul(a, b), torch.matmul(a, b))


def test_limb_split_keeps_every_width_exact_even_for_extreme_limbs():
    """Each contracted width gets the widest exact limbs; limbs all at -2^(bits-1) are the worst case."""
    from privformers.mpc.ringmath import limb_split

    assert limb_split(32)[1] == limb_split(128)[1] == limb_split(682)[1] == 3 and limb_split(683)[1] == 4
    g = torch.Generator().manual_seed(2)
    for k in (32, 128, 150, 384, 682, 683, 1000, 3000):
        bits, n = limb_split(k)
        # every low limb at -2^(bits-1) and the top limb at its most negative value
        worst = sum(-(1 << (bits - 1)) << (bits * i) for i in range(n - 1)) - (1 << 63)
        a, b = _ring(8, 64, k, g=g), _ring(k, 512, g=g)
        a[0], a[1] = -1, wrap_int(worst)
        b[:, :8], b[:, 8:16] = -1, wrap_int(worst)
        assert torch.equal(ring_matmul(a, b), torch.matmul(a, b)), k


def _extreme_ring(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Ring-uniform int64 values with the extremes (-2^63, 2^63 - 1, -1, 0) planted in the first entries."""
    x = torch.randint(-2**63, 2**63 - 1, shape, generator=gen, dtype=torch.int64)
    flat = x.view(-1)
    flat[: min(4, flat.numel())] = torch.tensor([-2**63, 2**63 - 1, -1, 0])[: min(4, flat.numel())]
    return x


def test_signed_limbs_rebuild_every_int64():
    gen = torch.Generator().manual_seed(3)
    x = _extreme_ring((1000,), gen)
    for bits in (14, 21, 22, 32):
        n = -(-64 // bits)
        limbs = signed_limbs(x, bits, n)
        assert limbs.abs().max() <= 2 ** (bits - 1)
        back = sum(limbs[i].to(torch.int64) << (bits * i) for i in range(n))
        assert torch.equal(back, x)


def test_plain_matrix_products_are_exact_at_the_float64_bound():
    """Every column of |W| sums to the largest bound its limb width allows (worst case for float64)."""
    gen = torch.Generator().manual_seed(4)
    for k, n, log_sum in [(384, 64, 21), (384, 64, 22), (1536, 48, 22), (1536, 48, 26), (700, 30, 40), (5, 7, 45)]:
        per = (1 << log_sum) // k
        w = per * (torch.randint(0, 2, (k, n), generator=gen) * 2 - 1)
        pm = PlainMatrix(w)
        x = _extreme_ring((9, k), gen)
        assert torch.equal(pm.rmatmul(x, "matmul"), torch.matmul(x, w)), (k, log_sum, pm.split)
        xt = _extreme_ring((9, n), gen)
        assert torch.equal(pm.rmatmul(xt, "matmul_t"), torch.matmul(xt, w.t()))
        xm = _extreme_ring((k, n), gen)
        assert torch.equal(pm.rmatmul(xm, "mul"), xm * w)


def test_plain_split_takes_two_limbs_for_model_sized_weights():
    """Column sums, not max|w| x width, set the limbs; chunks of the contracted dim buy the rest."""
    gen = torch.Generator().manual_seed(5)
    w = (torch.randn(1536, 384, generator=gen) * 0.05 * 2**16).round().long()   # column |w| sums ~ 2^22
    assert plain_split(w, "matmul")[0] == 32
    assert plain_split(w, "matmul")[1] > 1
    small = (torch.randn(384, 1536, generator=gen) * 0.02 * 2**16).round().long()
    assert plain_split(small, "matmul") == (32, 1)


def test_int32_rows_product_equals_the_width_32_product_mod_2_32():
    """An int32 masked one-hot is its own 32-bit limb: the direct float64 product matches, extremes included."""
    g = torch.Generator().manual_seed(5)
    w = torch.randint(-(2**13), 2**13, (3000, 24), generator=g)        # a chunked table (tall, one limb)
    u = torch.randint(-(2**31), 2**31, (5, 3000), generator=g, dtype=torch.int64)
    u[0, :] = -(2**31)
    u[1, :] = 2**31 - 1
    pm = PlainMatrix(w)
    assert pm.split("matmul")[0] == 32 and len(pm.split("matmul")[1]) > 1
    want = (u @ w) & 0xFFFFFFFF
    got = pm.rmatmul_int32(u.to(torch.int32)) & 0xFFFFFFFF
    assert torch.equal(got, want)
    assert torch.equal(got, pm.rmatmul(u, "matmul", width=32) & 0xFFFFFFFF)
    wide = PlainMatrix(w * 2**20)                                        # column sums too large for 32-bit limbs
    assert wide.split("matmul")[0] < 32
    assert torch.equal(wide.rmatmul_int32(u.to(torch.int32)) & 0xFFFFFFFF, (u @ (w * 2**20)) & 0xFFFFFFFF)


def test_threaded_plain_products_equal_one_thread_and_restore_the_thread_count():
    """A product large enough for the second thread is bit-identical to the one-thread product (both
    orientations and the int32 one-hot path); small products and 'mul' stay on one thread."""
    g = torch.Generator().manual_seed(6)
    w = (torch.randn(384, 1536, generator=g) * 0.02 * 2**16).round().long()
    one, two = PlainMatrix(w), PlainMatrix(w, threads=2)
    x = torch.randint(-(2**63), 2**63 - 1, (128, 384), generator=g)
    xt = torch.randint(-(2**63), 2**63 - 1, (128, 1536), generator=g)
    u = torch.randint(-(2**31), 2**31, (128, 384), generator=g, dtype=torch.int32)
    assert x.numel() * 1536 >= THREADED_WORK and two._threads_for(x, "matmul") == 2
    assert two._threads_for(x[:1], "matmul") == 1 and two._threads_for(xt, "mul") == 1
    before = torch.get_num_threads()
    assert torch.equal(two.rmatmul(x, "matmul"), one.rmatmul(x, "matmul"))
    assert torch.equal(two.rmatmul(xt, "matmul_t"), one.rmatmul(xt, "matmul_t"))
    assert torch.equal(two.rmatmul_int32(u), one.rmatmul_int32(u))
    assert torch.equal(two.rmatmul(x, "matmul"), torch.matmul(x, w))
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"):
        PlainMatrix(w, threads=0)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@CUDA
def test_plain_matrix_on_the_gpu_equals_the_cpu_bit_for_bit():
    """The server's products on a GPU: same limb plan, same int64 results on the CPU, at the float64
    bound, for every kind of product, a batched operand and the int32 one-hot path."""
    gen = torch.Generator().manual_seed(7)
    for k, n, log_sum in [(384, 64, 22), (1536, 48, 26), (5, 7, 45)]:
        w = ((1 << log_sum) // k) * (torch.randint(0, 2, (k, n), generator=gen) * 2 - 1)
        cpu, gpu = PlainMatrix(w), PlainMatrix(w, device="cuda")
        assert gpu.split("matmul") == cpu.split("matmul") and gpu.max_abs() == cpu.max_abs()
        for x, op in [(_extreme_ring((2, 9, k), gen), "matmul"), (_extreme_ring((9, n), gen), "matmul_t"),
                      (_extreme_ring((k, n), gen), "mul")]:
            got = gpu.rmatmul(x, op)
            assert got.device.type == "cpu" and got.dtype == torch.int64
            assert torch.equal(got, cpu.rmatmul(x, op)), (k, log_sum, op)
    table = torch.randint(-(2**13), 2**13, (3000, 24), generator=gen)
    u = torch.randint(-(2**31), 2**31, (5, 3000), generator=gen, dtype=torch.int64).to(torch.int32)
    assert torch.equal(PlainMatrix(table, device="cuda").rmatmul_int32(u), PlainMatrix(table).rmatmul_int32(u))


def test_gemm_device_refuses_a_device_it_cannot_use():
    """An unknown, unsupported or absent device is an error naming it, never a quiet fallback to the CPU."""
    from privformers.mpc.party import CLIENT, Party
    from privformers.mpc.ringmath import gemm_device

    assert gemm_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown gemm device 'gpu0'"):
        gemm_device("gpu0")
    with pytest.raises(ValueError, match="only cpu and cuda"):
        gemm_device("meta")
    absent = "cuda:99" if torch.cuda.is_available() else "cuda"
    with pytest.raises(ValueError, match=f"gemm device '{absent}'"):
        gemm_device(absent)
    with pytest.raises(ValueError, match="server's option"):
        Party(CLIENT, {}, gemm_device="cuda")


def test_spilled_matrix_lives_in_an_unlinked_file_and_multiplies_the_same(tmp_path, monkeypatch):
    """A lean client's F in a memory-mapped file (``PRIVFORMERS_WEIGHTS_DIR``): same products, few-row
    products on int64 directly, and no file left behind."""
    from privformers.mpc import ringmath

    g = torch.Generator().manual_seed(5)
    m = torch.randint(-(2**62), 2**62, (64, 40), generator=g)
    a = torch.randint(-(2**62), 2**62, (3, 64), generator=g)
    wide = torch.randint(-(2**62), 2**62, (9, 64), generator=g)
    monkeypatch.setenv(ringmath.LIMB_CACHE_ENV, "0")
    monkeypatch.setenv(ringmath.WEIGHTS_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(ringmath, "CHUNK_ENTRIES", 640)
    rm = RingMatrix(m.clone())
    assert rm.limbs is None and list(tmp_path.iterdir()) == []
    assert torch.equal(rm.rmatmul(a), torch.matmul(a, m))                       # few rows: int64 blocks
    assert torch.equal(rm.rmatmul(wide), ring_matmul(wide, m))                  # many rows: limbs per block
    assert torch.equal(rm.rmatmul(a[:, :40], transpose=True), torch.matmul(a[:, :40], m.t()))
