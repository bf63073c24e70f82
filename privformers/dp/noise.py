"""Gaussian noise from a generator freshly seeded with 64 bits of OS entropy (os.urandom) per call.

torch's generator (a Mersenne Twister / Philox stream) is not itself a CSPRNG, but every draw
starts from an unpredictable seed taken from the operating system's CSPRNG, so no noise depends
on a seed an attacker could know or reuse. (``torch.manual_seed`` does not affect this noise.)
"""

from __future__ import annotations

import os

import torch


def fresh_generator(device: torch.device) -> torch.Generator:
    """A torch generator on ``device`` seeded from os.urandom."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int.from_bytes(os.urandom(8), "little"))
    return generator


def gaussian_like(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """N(0, std^2) noise with ``tensor``'s shape, dtype and device."""
    if std == 0:
        return torch.zeros_like(tensor)
    generator = fresh_generator(tensor.device)
    return torch.normal(0.0, std, tensor.shape, generator=generator, device=tensor.device, dtype=tensor.dtype)
