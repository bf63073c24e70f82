"""Multi-reference BLEU: a hypothesis equal to one reference scores 100."""

from __future__ import annotations

from privformers.dp.bleu import corpus_bleu, group_references


def test_group_and_score():
    refs = group_references([("a", "the cat sat on the mat"), ("a", "a cat is on the mat"),
                             ("b", "there is a dog in the house")])
    assert list(refs) == ["a", "b"] and len(refs["a"]) == 2
    perfect = corpus_bleu(["a cat is on the mat", "there is a dog in the house"], [refs["a"], refs["b"]])
    assert abs(perfect - 100.0) < 1e-9
    assert corpus_bleu(["dog dog dog", "cat"], [refs["a"], refs["b"]]) < 10
