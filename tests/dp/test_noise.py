"""Noise does not depend on torch's global seed: every call draws a fresh OS-entropy seed."""

from __future__ import annotations

import torch

from privformers.dp.noise import gaussian_like


def test_noise_ignores_manual_seed():
    torch.manual_seed(0)
    a = gaussian_like(torch.zeros(1000), 1.0)
    torch.manual_seed(0)
    b = gaussian_like(torch.zeros(1000), 1.0)
    assert not torch.equal(a, b)
    assert abs(a.std().item() - 1.0) < 0.1 and abs(a.mean().item()) < 0.15


def test_zero_std_is_exactly_zero():
    assert torch.count_nonzero(gaussian_like(torch.ones(10), 0.0)) == 0
