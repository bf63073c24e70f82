"""BLEU and chrF++ against values computed by hand from the BLEU definition."""

import math

import pytest

from privformers.metrics import corpus_bleu, corpus_chrf_plus_plus

HYP = "the cat sat on the mat"
REF = "the cat sat on a mat"


def test_bleu_matches_hand_computation():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so brevity penalty 1
    expected = 100 * math.exp(sum(math.log(p) for p in (5 / 6, 3 / 5, 2 / 4, 1 / 3)) / 4)
    assert corpus_bleu([HYP], [[REF]]) == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(53.7285, abs=1e-3)


def test_bleu_multi_reference_and_ragged_lists():
    assert corpus_bleu([HYP], [[REF, HYP]]) == pytest.approx(100.0)
    ragged = corpus_bleu([HYP, "a b c d"], [[REF, HYP], ["a b c d"]])
    assert ragged == pytest.approx(100.0)


def test_chrf_plus_plus_bounds():
    assert corpus_chrf_plus_plus([HYP], [[HYP]]) == pytest.approx(100.0)
    assert 0 < corpus_chrf_plus_plus([HYP], [[REF]]) < 100
    assert corpus_chrf_plus_plus([HYP], [[REF, HYP]]) == pytest.approx(100.0)


def test_length_mismatch():
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu([HYP], [[REF], [REF]])
    with pytest.raises(ValueError, match="at least one"):
        corpus_bleu([HYP], [[]])
