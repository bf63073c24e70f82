"""DP randomness from a CSPRNG: every noise draw and every Poisson sample comes from an AES-256-CTR
stream keyed with 32 fresh bytes of os.urandom.

torch's generators (Mersenne Twister on the CPU, Philox on a GPU) are not cryptographic: a run of
their outputs predicts the rest, so noise drawn from them is only as secret as their state. Here a
stream's key is never reused and never derived from ``torch.manual_seed``. Uniforms take the top 52
bits of each 64-bit word; normals come from Box-Muller in float64, then are cast to the gradient's dtype.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import torch

from privformers.mpc.prg import AesCtrPrg

WORKERS = min(4, os.cpu_count() or 1)   # threads for one large draw
PARALLEL_FROM = 1 << 20                  # values from which a draw uses them
BLOCK = 1 << 18   # values made at a time: small float64 buffers (cache-sized, faster than larger blocks)


def secure_stream() -> AesCtrPrg:
    """A fresh AES-256-CTR stream keyed from os.urandom (one per draw: no key outlives its noise)."""
    return AesCtrPrg.from_os()


def secure_uniform(n: int, stream: AesCtrPrg) -> torch.Tensor:
    """n uniform float64 values on the grid (k + 1/2) / 2^52, k < 2^52, so never 0 or 1.

    k is the top 52 bits of a 64-bit word with its highest bit flipped (a relabelling of a uniform
    k): the signed shift w >> 12 lies in [-2^51, 2^51), and s / 2^52 + 1/2 + 2^-53 is exact in float64."""
    u = (stream.ring((n,)) >> 12).to(torch.float64)
    return u.mul_(2.0 ** -52).add_(0.5 + 2.0 ** -53)


def secure_normal(n: int, stream: AesCtrPrg) -> torch.Tensor:
    """n standard normal float64 values: Box-Muller on pairs of ``secure_uniform`` (first the radii's
    uniforms, then the angles'), cosines first, then sines; in place, no temporary copies."""
    half = (n + 1) // 2
    radius = secure_uniform(half, stream).log_().mul_(-2.0).sqrt_()
    angle = secure_uniform(half, stream).mul_(2.0 * math.pi)
    out = torch.empty(2 * half, dtype=torch.float64)
    torch.cos(angle, out=out[:half]).mul_(radius)
    torch.sin(angle, out=out[half:]).mul_(radius)
    return out[:n]


def _fill_normal(flat: torch.Tensor, start: int, stop: int, std: float, stream: AesCtrPrg) -> None:
    """flat[start:stop] = N(0, std^2) noise from ``stream``, block by block."""
    for a in range(start, stop, BLOCK):
        b = min(a + BLOCK, stop)
        flat[a:b] = secure_normal(b - a, stream).mul_(std)


def gaussian_like_many(tensors: list[torch.Tensor], std: float) -> list[torch.Tensor]:
    """N(0, std^2) noise for each tensor (its shape, dtype and device), from fresh secure streams.

    Made on the CPU in blocks of ``BLOCK`` values, then moved to each tensor's device. All the values
    together form one draw: at least ``PARALLEL_FROM`` of them are cut into ``WORKERS`` equal ranges,
    across tensor boundaries, each filled from its own fresh stream in its own thread (the cipher and
    torch's kernels release the GIL), so many small gradients are as parallel as one large one. The
    noise of all the tensors is held at once: one model's worth of memory in the gradients' dtype."""
    if not math.isfinite(std) or std < 0:
        raise ValueError(f"noise std must be a finite number >= 0, got {std}")
    if std == 0:
        return [torch.zeros_like(t) for t in tensors]
    flats = [torch.empty(t.numel(), dtype=t.dtype) for t in tensors]
    offsets = [0]
    for f in flats:
        offsets.append(offsets[-1] + f.numel())
    total = offsets[-1]
    parts = WORKERS if total >= PARALLEL_FROM else 1
    cuts = [total * i // parts for i in range(parts + 1)]

    def fill_range(i: int) -> None:
        stream = secure_stream()
        for f, first in zip(flats, offsets):
            a, b = max(cuts[i], first), min(cuts[i + 1], first + f.numel())
            if a < b:
                _fill_normal(f, a - first, b - first, std, stream)

    if parts == 1:
        fill_range(0)
    else:
        with ThreadPoolExecutor(parts, thread_name_prefix="dp-noise") as pool:
            list(pool.map(fill_range, range(parts)))
    return [f.reshape(t.shape).to(t.device) for f, t in zip(flats, tensors)]


def gaussian_like(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """N(0, std^2) noise with ``tensor``'s shape, dtype and device (``gaussian_like_many`` of one)."""
    return gaussian_like_many([tensor], std)[0]


def bernoulli_mask(n: int, p: float) -> torch.Tensor:
    """n independent booleans, each True with probability p (to within 2^-53), from a fresh secure stream."""
    if n == 0:
        return torch.zeros(0, dtype=torch.bool)
    stream = secure_stream()
    return torch.cat([secure_uniform(min(BLOCK, n - start), stream) < p for start in range(0, n, BLOCK)])
