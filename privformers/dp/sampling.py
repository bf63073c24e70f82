"""Poisson sampling, the sampling the accountant assumes, with empty-safe, memory-bounded batches.

Each logical batch includes every example independently with probability q, so its size varies
(and may be zero). Membership is drawn from a fresh AES-256-CTR stream keyed from os.urandom, like
the noise: which examples a step used must stay as secret as the noise, or the amplification the
accountant counts on is lost.
Across data-parallel ranks (``DistributedPoissonSampler``) every rank draws the same mask over the
whole dataset from one stream keyed by rank 0 and takes its share of the selected examples, so the
logical batch is exactly the Poisson sample the accountant assumes, however many ranks split it.
Large logical batches are cut into physical batches of at most ``max_physical_batch_size``
examples that are accumulated with ``virtual_step`` before one private ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from privformers.dp.noise import bernoulli_mask
from privformers.mpc.prg import AesCtrPrg


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


class DistributedPoissonSampler(PoissonBatchSampler):
    """This rank's share of each Poisson logical batch drawn over the whole dataset.

    Every rank derives the same membership mask (each of the ``num_examples`` examples kept with
    probability ``sample_rate``) from one AES-256-CTR stream whose key rank 0 draws from os.urandom
    and broadcasts once, when the sampler is made (a collective: every rank must make it); rank
    ``r`` of ``world`` then takes every ``world``-th selected index from the ``r``-th. So the logical
    batch, the union of the shares, is exactly Poisson with rate ``sample_rate`` over the dataset,
    the event the accountant counts with q = expected logical batch / dataset size; shares differ in
    size by at most one, and may be empty (the rank still takes part in the step's all-reduce).
    Why one shared mask rather than each rank sampling a shard of the data: the same guarantee, but
    balanced shares, no partition of the data to keep, and every rank knows the logical batch size
    (``last_batch_size``) and the largest share (``last_max_share``), which sharded training needs
    to run the same number of physical batches on every rank. The key must stay as secret as the
    noise: it tells which examples each step used. Cost per step: ``num_examples`` uniforms on
    every rank (about 8 ns each), no communication after the first broadcast."""

    def __init__(self, num_examples: int, sample_rate: float, steps: int | None = None,
                 key: bytes | None = None):
        from privformers.dp.distributed import rank_and_world, shared_key

        super().__init__(num_examples, sample_rate, steps)   # the same checks, rate and steps
        self.rank, self.world = rank_and_world()
        self._stream = AesCtrPrg(key if key is not None else shared_key())
        self.last_batch_size = 0
        self.last_max_share = 0

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.steps):
            selected = bernoulli_mask(self.num_examples, self.sample_rate, self._stream).nonzero().flatten()
            self.last_batch_size = len(selected)
            self.last_max_share = math.ceil(len(selected) / self.world)
            yield selected[self.rank::self.world].tolist()


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
