"""train-lm's choices: which references it trains on, how it delexicalises them, which checkpoint it keeps."""

from __future__ import annotations

import pytest

from privformers.data import TextPair
from privformers.lm.delex import Delexicaliser
from privformers.lm.train import clean_pairs, delexicalised, selection_score

MR = "name[Aromi], eatType[coffee shop], area[riverside]"
PAIRS = [TextPair(MR, "Aromi is a coffee shop by the river."),           # every slot said
         TextPair(MR, "Aromi is a coffee shop."),                          # area left out
         TextPair(MR, "Aromi is a coffee shop by the river near Zizzi.")]  # names another restaurant


def test_clean_pairs():
    assert clean_pairs(PAIRS, "none") == PAIRS
    assert clean_pairs(PAIRS, "other-names") == PAIRS[:2]
    assert clean_pairs(PAIRS, "slot-errors") == PAIRS[:1]
    with pytest.raises(ValueError, match="unknown cleaning"):
        clean_pairs(PAIRS, "all")


def test_delexicalised_pairs():
    [pair] = delexicalised(PAIRS[:1], Delexicaliser.for_slots(["name", "eatType"]))
    assert pair == TextPair("name[XNAME], eatType[XEAT], area[riverside]", "XNAME is a XEAT by the river.")
    assert delexicalised(PAIRS, None) == PAIRS


def test_selection_score():
    record = {"validation_bleu": 62.0, "validation_ser": 33.0}
    assert selection_score(record, "bleu") == 62.0 and selection_score(record, "bleu-ser") == 29.0
    with pytest.raises(ValueError, match="only E2E"):
        selection_score({"validation_bleu": 1.0}, "bleu-ser")
