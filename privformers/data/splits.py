"""Split generation pairs by source, so that no source (and none of its references) is in two splits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from privformers.data.examples import TextPair

SPLIT_NAMES = ("train", "validation", "test")
T = TypeVar("T")


def split_sources(
    sources: Sequence[str], validation_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0
) -> dict[str, set[str]]:
    """Assign each distinct source to train, validation or test by a seeded shuffle of the sources."""
    if not (
        0 <= validation_fraction < 1 and 0 <= test_fraction < 1 and validation_fraction + test_fraction < 1
    ):
        raise ValueError("validation and test fractions must be in [0, 1) and sum to less than 1")
    unique = sorted(set(sources))
    random.Random(seed).shuffle(unique)
    n_test = round(len(unique) * test_fraction)
    n_validation = round(len(unique) * validation_fraction)
    return {
        "test": set(unique[:n_test]),
        "validation": set(unique[n_test : n_test + n_validation]),
        "train": set(unique[n_test + n_validation :]),
    }


def split_by_source(
    pairs: Sequence[TextPair], validation_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0
) -> dict[str, list[TextPair]]:
    """Split pairs into train/validation/test by source; order within a split follows the input."""
    assignment = split_sources([p.source for p in pairs], validation_fraction, test_fraction, seed)
    return {name: [p for p in pairs if p.source in assignment[name]] for name in SPLIT_NAMES}
