"""Splits by source: disjoint sources, all pairs kept, deterministic, sizes as asked."""

import pytest

from privformers.data import TextPair, read_pairs, split_by_source


def test_no_source_in_two_splits_and_nothing_lost():
    pairs = [TextPair(f"s{i % 40}", f"t{i}") for i in range(200)]
    splits = split_by_source(pairs, validation_fraction=0.1, test_fraction=0.2, seed=3)
    sources = {name: {p.source for p in split} for name, split in splits.items()}
    assert not sources["train"] & sources["test"]
    assert not sources["train"] & sources["validation"]
    assert not sources["validation"] & sources["test"]
    assert (len(sources["test"]), len(sources["validation"]), len(sources["train"])) == (8, 4, 28)
    assert sum(len(s) for s in splits.values()) == 200
    assert splits == split_by_source(pairs, validation_fraction=0.1, test_fraction=0.2, seed=3)


def test_bad_fractions():
    with pytest.raises(ValueError):
        split_by_source([TextPair("a", "b")], validation_fraction=0.6, test_fraction=0.5)


def test_real_e2e_split_sizes(shared_file):
    splits = split_by_source(read_pairs("e2e", shared_file("e2e/devset.csv")))
    assert {k: len({p.source for p in v}) for k, v in splits.items()} == {
        "train": 465,
        "validation": 27,
        "test": 55,
    }
