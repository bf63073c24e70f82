"""Poisson batches have the expected size, can be empty, and split into bounded physical batches."""

from __future__ import annotations

import pytest
from torch.utils.data import default_collate

from privformers.dp.sampling import PoissonBatchSampler, empty_safe, physical_batches


def test_poisson_batch_sizes():
    sampler = PoissonBatchSampler(1000, 0.05, steps=400)
    sizes = [len(b) for b in sampler]
    assert len(sizes) == 400 == len(sampler)
    assert abs(sum(sizes) / 400 - 50) < 3
    assert len(set(sizes)) > 5  # sizes vary


def test_empty_batches_happen_and_collate_to_none():
    sampler = PoissonBatchSampler(10, 0.05, steps=200)
    assert any(len(b) == 0 for b in sampler)
    assert empty_safe(default_collate)([]) is None
    assert empty_safe(default_collate)([1, 2]).tolist() == [1, 2]


def test_physical_batches():
    assert physical_batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert physical_batches([], 3) == []
    with pytest.raises(ValueError):
        physical_batches([1], 0)
    with pytest.raises(ValueError, match="sample_rate"):
        PoissonBatchSampler(10, 0.0)
