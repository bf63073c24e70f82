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


def _fill_ranges(segments: list[tuple[torch.Tensor, int]], cuts: list[int], parts: range, std: float) -> None:
    """Fill draw positions ``cuts[i]:cuts[i + 1]`` for each ``i`` in ``parts``, each range from its own
    fresh stream (in threads when there are several).

    ``segments`` are (flat tensor, draw position of its first value) pairs in draw order. Within a
    range one stream runs on across segment boundaries, and each segment's share starts a new block,
    so a range's values depend only on the segment boundaries, not on which buffer holds them."""

    def fill_range(i: int) -> None:
        stream = secure_stream()
        for f, first in segments:
            a, b = max(cuts[i], first), min(cuts[i + 1], first + f.numel())
            if a < b:
                _fill_normal(f, a - first, b - first, std, stream)

    if len(parts) == 1:
        fill_range(parts[0])
    else:
        with ThreadPoolExecutor(len(parts), thread_name_prefix="dp-noise") as pool:
            list(pool.map(fill_range, parts))


def _check_std(std: float) -> None:
    if not math.isfinite(std) or std < 0:
        raise ValueError(f"noise std must be a finite number >= 0, got {std}")


def gaussian_like_many(tensors: list[torch.Tensor], std: float) -> list[torch.Tensor]:
    """N(0, std^2) noise for each tensor (its shape, dtype and device), from fresh secure streams.

    Made on the CPU in blocks of ``BLOCK`` values, then moved to each tensor's device. All the values
    together form one draw: at least ``PARALLEL_FROM`` of them are cut into ``WORKERS`` equal ranges,
    across tensor boundaries, each filled from its own fresh stream in its own thread (the cipher and
    torch's kernels release the GIL), so many small gradients are as parallel as one large one. The
    noise of all the tensors is held at once: one model's worth of memory in the gradients' dtype."""
    _check_std(std)
    if std == 0:
        return [torch.zeros_like(t) for t in tensors]
    flats = [torch.empty(t.numel(), dtype=t.dtype) for t in tensors]
    offsets = [0]
    for f in flats:
        offsets.append(offsets[-1] + f.numel())
    total = offsets[-1]
    parts = WORKERS if total >= PARALLEL_FROM else 1
    _fill_ranges(list(zip(flats, offsets)), [total * i // parts for i in range(parts + 1)], range(parts), std)
    return [f.reshape(t.shape).to(t.device) for f, t in zip(flats, tensors)]


def gaussian_range(sizes: list[int], start: int, stop: int, std: float,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Positions ``start:stop`` of one N(0, std^2) draw over tensors of ``sizes`` values (flattened,
    in order), as a flat CPU tensor of ``dtype``; only that part is made (cost: ``stop - start``
    normals, about 25 ns each on one core, and that many values of memory).

    Why: in data-parallel training every coordinate's noise is drawn by exactly one rank, its owner;
    a rank asks for its own range only. The range is cut like ``gaussian_like_many`` cuts a whole
    draw (``WORKERS`` sub-ranges from ``PARALLEL_FROM`` values on, each from a fresh stream), so the
    ranges of ranks ``0..N-1`` owning ``total * r // N`` onwards hold exactly the values a single
    process draws with ``WORKERS = N`` when each rank fills its range from one stream and every stream
    is keyed the same (the tests pin the key that way)."""
    _check_std(std)
    total = sum(sizes)
    if not 0 <= start <= stop <= total:
        raise ValueError(f"range {start}:{stop} is not inside a draw of {total} values")
    out = torch.zeros(stop - start, dtype=dtype)
    if std == 0 or stop == start:
        return out
    segments, first = [], 0
    for n in sizes:
        a, b = max(first, start), min(first + n, stop)
        if a < b:
            segments.append((out[a - start:b - start], a))
        first += n
    parts = WORKERS if stop - start >= PARALLEL_FROM else 1
    cuts = [start + (stop - start) * i // parts for i in range(parts + 1)]
    _fill_ranges(segments, cuts, range(parts), std)
    return out


def gaussian_like(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """N(0, std^2) noise with ``tensor``'s shape, dtype and device (``gaussian_like_many`` of one)."""
    return gaussian_like_many([tensor], std)[0]


def bernoulli_mask(n: int, p: float, stream: AesCtrPrg | None = None) -> torch.Tensor:
    """n independent booleans, each True with probability p (to within 2^-53), from a fresh secure stream
    (or from ``stream``, which then runs on: data-parallel ranks share one to agree on a batch)."""
    if n == 0:
        return torch.zeros(0, dtype=torch.bool)
    stream = stream if stream is not None else secure_stream()
    return torch.cat([secure_uniform(min(BLOCK, n - start), stream) < p for start in range(0, n, BLOCK)])
