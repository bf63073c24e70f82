"""ROUGE-L from Google's ``rouge-score``: best F-measure over a hypothesis's references, averaged."""

from __future__ import annotations

from collections.abc import Sequence

from rouge_score import rouge_scorer

from privformers.metrics.references import check_lengths


def corpus_rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean over hypotheses of the max ROUGE-L F1 against its references, on a 0-100 scale."""
    check_lengths(hypotheses, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    best = [
        max(scorer.score(ref, hyp)["rougeL"].fmeasure for ref in refs)
        for hyp, refs in zip(hypotheses, references)
    ]
    return 100.0 * sum(best) / len(best)
