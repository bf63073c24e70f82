"""Corpus BLEU and chrF++ from sacrebleu, with any number of references per hypothesis."""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu

from privformers.metrics.references import check_lengths, reference_streams


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """sacreBLEU corpus BLEU (13a tokenisation, exp smoothing) on a 0-100 scale."""
    check_lengths(hypotheses, references)
    return float(sacrebleu.corpus_bleu(list(hypotheses), reference_streams(references)).score)


def corpus_chrf_plus_plus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """sacrebleu chrF++ (character 6-grams plus word bigrams, beta 2) on a 0-100 scale."""
    check_lengths(hypotheses, references)
    return float(sacrebleu.corpus_chrf(list(hypotheses), reference_streams(references), word_order=2).score)
