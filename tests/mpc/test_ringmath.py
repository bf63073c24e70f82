"""Exact products mod 2^64 through float limbs, against torch's int64 matmul (which wraps mod 2^64)."""

from __future__ import annotations

import torch

from privformers.mpc.ringmath import RingMatrix, ring_matmul


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


def test_limb_split_keeps_every_width_exact_even_for_all_ones_limbs():
    """Each contracted width gets the widest exact limbs; all-ones limbs (x = -1) are the worst case."""
    from privformers.mpc.ringmath import limb_split

    assert limb_split(32)[1] == limb_split(128)[1] == 3 and limb_split(384)[1] == 4
    g = torch.Generator().manual_seed(2)
    for k in (32, 128, 150, 384, 1000):
        a, b = _ring(8, 64, k, g=g), _ring(k, 512, g=g)
        a[0] = -1
        b[:, :8] = -1
        assert torch.equal(ring_matmul(a, b), torch.matmul(a, b)), k
