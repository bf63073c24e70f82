"""Poisson sampling, the sampling the accountant assumes, with empty-safe, memory-bounded batches.

Each logical batch includes every example independently with probability q, so its size varies
(and may be zero). Membership is drawn from a fresh AES-256-CTR stream keyed from os.urandom, like
the noise: which examples a step used must stay as secret as the noise, or the amplification the
accountant counts on is lost.
Large logical batches are cut into physical batches of at most ``max_physical_batch_size``
examples that are accumulated with ``virtual_step`` before one private ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from privformers.dp.noise import bernoulli_mask


class PoissonBatchSampler:
    """Yields index lists: each index kept with probability ``sample_rate``; ``steps`` batches per epoch."""

    def __init__(self, num_examples: int, sample_rate: float, steps: int | None = None):
        if num_examples <= 0:
            raise ValueError(f"num_examples must be > 0, got {num_examples}")
        if not 0 < sample_rate <= 1:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
        self.num_examples = num_examples
        self.sample_rate = sample_rate
        self.steps = steps if steps is not None else math.ceil(1 / sample_rate)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.steps):
            keep = bernoulli_mask(self.num_examples, self.sample_rate)
            yield keep.nonzero().flatten().tolist()


def physical_batches(indices: Sequence[int], max_physical_batch_size: int) -> list[list[int]]:
    """Cut a logical batch into chunks of at most ``max_physical_batch_size`` (none if empty)."""
    if max_physical_batch_size <= 0:
        raise ValueError(f"max_physical_batch_size must be > 0, got {max_physical_batch_size}")
    size = max_physical_batch_size
    return [list(indices[i:i + size]) for i in range(0, len(indices), size)]


def empty_safe(collate: Callable[[list], object]) -> Callable[[list], object | None]:
    """Wrap a collate function so that an empty batch collates to None instead of failing."""

    def wrapped(examples: list):
        return None if len(examples) == 0 else collate(examples)

    return wrapped
