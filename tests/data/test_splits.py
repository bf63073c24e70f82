"""Splits by source: disjoint sources, all pairs kept, deterministic, sizes as asked."""

import pytest

from privformers.data import TextPair, read_pairs, split_by_source
from privformers.data.splits import restaurant_name, split_by_name, split_pairs


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


def test_split_by_name_keeps_each_restaurant_in_one_split():
    pairs = [TextPair(f"name[N{i % 12}], area[a{i % 7}]", f"t{i}") for i in range(300)]
    splits = split_pairs(pairs, "name", validation_fraction=0.1, test_fraction=0.2, seed=1)
    names = {split: {restaurant_name(p.source) for p in part} for split, part in splits.items()}
    assert not names["train"] & names["test"] and not names["train"] & names["validation"]
    assert not names["validation"] & names["test"] and names["test"] and names["validation"]
    assert sum(len(s) for s in splits.values()) == 300
    assert splits == split_by_name(pairs, validation_fraction=0.1, test_fraction=0.2, seed=1)
    with pytest.raises(ValueError, match="name"):
        split_by_name([TextPair("area[riverside]", "x")])
    with pytest.raises(ValueError, match="unknown split"):
        split_pairs(pairs, "row")


def test_real_e2e_split_by_name_and_by_both(shared_file):
    pairs = read_pairs("e2e", shared_file("e2e/devset.csv"))
    by_name = split_by_name(pairs)
    assert {k: len({p.source for p in v}) for k, v in by_name.items()} == {"train": 446, "validation": 28, "test": 73}
    assert {restaurant_name(p.source) for p in by_name["test"]} == {
        "The Punter", "Travellers Rest Beefeater", "The Cambridge Blue"}
    both = split_pairs(pairs, "name+mr")
    trained = {p.source for p in both["train"]}
    for by in ("name", "mr"):   # neither test shares an MR with the training part
        assert not trained & {p.source for p in split_pairs(pairs, by)["test"]}
    assert not {restaurant_name(s) for s in trained} & {restaurant_name(p.source) for p in by_name["test"]}
    assert (len(trained), len({p.source for p in both["test"]})) == (399, 122)
