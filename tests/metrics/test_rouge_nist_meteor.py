"""ROUGE-L by hand (longest common subsequence), NIST sanity, METEOR's clear error without WordNet."""

import pytest

from privformers.metrics import compute_metrics, corpus_meteor, corpus_nist, corpus_rouge_l, wordnet_available


def test_rouge_l_matches_lcs_by_hand():
    # LCS("the cat sat on the mat", "the cat sat on a mat") = 5 tokens: P = R = F = 5/6
    assert corpus_rouge_l(["the cat sat on the mat"], [["the cat sat on a mat"]]) == pytest.approx(500 / 6)
    # best of two references: "a dog" (LCS 2 of 4 -> F 0.5) beats "the dog" (F 1/3)
    assert corpus_rouge_l(["there is a dog"], [["a dog is there", "the dog"]]) == pytest.approx(50.0)


def test_nist_prefers_closer_hypothesis():
    refs = [["the cat sat on a mat ."]]
    assert corpus_nist(["the cat sat on a mat ."], refs) > corpus_nist(["a mat ."], refs) > 0


@pytest.mark.skipif(wordnet_available(), reason="WordNet is installed here, so METEOR runs")
def test_meteor_says_why_unavailable():
    with pytest.raises(RuntimeError, match="WordNet"):
        corpus_meteor(["a"], [["a"]])
    scores, unavailable = compute_metrics(["a b"], [["a b"]], names=("bleu", "meteor", "bertscore"))
    assert set(scores) == {"bleu"}
    assert "WordNet" in unavailable["meteor"] and "encoder" in unavailable["bertscore"]


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metrics(["a"], [["a"]], names=("bleurt",))
