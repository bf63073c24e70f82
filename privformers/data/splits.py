"""Split generation pairs so that no group of them is in two splits: by source (MR), or by restaurant name.

``split_by_source`` keeps each source (and all its references) in one split; ``split_by_name`` keeps each
E2E restaurant (every MR with that ``name[...]`` value) in one split, so a test on it measures names the
model never saw (a split by MR puts the same names in training and test). ``split_pairs`` picks one by
name, as ``train-lm --split-by`` and ``evaluate --split-by`` do.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TypeVar

from privformers.data.examples import TextPair

SPLIT_NAMES = ("train", "validation", "test")
SPLIT_BY = ("mr", "name", "name+mr")
NAME_SLOT = re.compile(r"(?:^|,)\s*name\s*\[([^\]]*)\]")
T = TypeVar("T")


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not (
        0 <= validation_fraction < 1 and 0 <= test_fraction < 1 and validation_fraction + test_fraction < 1
    ):
        raise ValueError("validation and test fractions must be in [0, 1) and sum to less than 1")


def split_sources(
    sources: Sequence[str], validation_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0
) -> dict[str, set[str]]:
    """Assign each distinct source to train, validation or test by a seeded shuffle of the sources."""
    _check_fractions(validation_fraction, test_fraction)
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


def restaurant_name(source: str) -> str | None:
    """The ``name[...]`` value of an E2E MR (None when it has none)."""
    match = NAME_SLOT.search(source)
    return match.group(1).strip() if match else None


def split_names(
    sources: Sequence[str], validation_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0
) -> dict[str, set[str]]:
    """Assign each restaurant name to test, validation or train: names in a seeded shuffle fill test until it
    holds ``test_fraction`` of the distinct MRs, then validation likewise; a name whose MRs would take a
    split past 1.5 times its share is passed over (unless the split is still empty), so that one frequent
    name cannot swallow it. Every name left goes to train."""
    _check_fractions(validation_fraction, test_fraction)
    counts: dict[str, int] = {}
    for source in set(sources):
        name = restaurant_name(source)
        if name is None:
            raise ValueError("a split by name needs every source to have a name[...] slot (E2E MRs)")
        counts[name] = counts.get(name, 0) + 1
    names = sorted(counts)
    random.Random(seed).shuffle(names)
    total = sum(counts.values())
    assignment: dict[str, set[str]] = {"test": set(), "validation": set(), "train": set()}
    for split, fraction in (("test", test_fraction), ("validation", validation_fraction)):
        target, held = fraction * total, 0
        for name in list(names):
            if held >= target:
                break
            if held and held + counts[name] > 1.5 * target:
                continue
            assignment[split].add(name)
            names.remove(name)
            held += counts[name]
    assignment["train"] = set(names)
    return assignment


def split_by_name(
    pairs: Sequence[TextPair], validation_fraction: float = 0.05, test_fraction: float = 0.10, seed: int = 0
) -> dict[str, list[TextPair]]:
    """Split E2E pairs by restaurant name: no ``name[...]`` value is in two splits (nor any MR)."""
    assignment = split_names([p.source for p in pairs], validation_fraction, test_fraction, seed)
    return {split: [p for p in pairs if restaurant_name(p.source) in assignment[split]] for split in SPLIT_NAMES}


def split_pairs(
    pairs: Sequence[TextPair],
    by: str = "mr",
    validation_fraction: float = 0.05,
    test_fraction: float = 0.10,
    seed: int = 0,
) -> dict[str, list[TextPair]]:
    """Split by ``mr`` (source), by ``name``, or ``name+mr``: trained on what is in neither test split, so
    that both the name split's test (unseen names) and the MR split's test (unseen MRs, seen names) are
    fair tests of one model; its validation is the name split's (less the MR test), its test both tests."""
    if by == "mr":
        return split_by_source(pairs, validation_fraction, test_fraction, seed)
    if by == "name":
        return split_by_name(pairs, validation_fraction, test_fraction, seed)
    if by != "name+mr":
        raise ValueError(f"unknown split {by!r}; choose one of {', '.join(SPLIT_BY)}")
    names = split_by_name(pairs, validation_fraction, test_fraction, seed)
    mr_test = {p.source for p in split_by_source(pairs, validation_fraction, test_fraction, seed)["test"]}
    name_test = {p.source for p in names["test"]}
    return {
        "train": [p for p in names["train"] if p.source not in mr_test],
        "validation": [p for p in names["validation"] if p.source not in mr_test],
        "test": [p for p in pairs if p.source in mr_test or p.source in name_test],
    }
