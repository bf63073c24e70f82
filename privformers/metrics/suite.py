"""Compute a named set of metrics at once, reporting those that cannot run offline and why."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from privformers.metrics.bertscore import BertScorer
from privformers.metrics.meteor import corpus_meteor, wordnet_available
from privformers.metrics.names import ALL_METRICS, DEFAULT_METRICS, MR_METRICS
from privformers.metrics.ngram import corpus_bleu, corpus_chrf_plus_plus
from privformers.metrics.nist import corpus_nist
from privformers.metrics.rouge import corpus_rouge_l
from privformers.metrics.slot_error import parse_mr, slot_error_rate, texts_naming_other_restaurants


def compute_metrics(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    names: Sequence[str] = DEFAULT_METRICS,
    bertscore_model: str | Path | None = None,
    sources: Sequence[str] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Return (scores, unavailable) where ``unavailable`` maps a metric name to the reason it was skipped.

    ``ser`` and ``other-names`` (``slot_error.py``) score the texts against their E2E MRs, ``sources``."""
    unknown = [n for n in names if n not in ALL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(ALL_METRICS)}")
    scores: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    simple = {
        "bleu": corpus_bleu,
        "chrf++": corpus_chrf_plus_plus,
        "rouge-l": corpus_rouge_l,
        "nist": corpus_nist,
    }
    for name in names:
        if name in simple:
            scores[name] = simple[name](hypotheses, references)
        elif name == "meteor":
            if wordnet_available():
                scores[name] = corpus_meteor(hypotheses, references)
            else:
                unavailable[name] = "nltk WordNet data not installed (not downloadable offline)"
        elif name == "bertscore":
            if bertscore_model is None:
                unavailable[name] = "no local encoder given (--bertscore-model PATH)"
            else:
                scores[name] = BertScorer(bertscore_model).corpus_f1(hypotheses, references)
        elif name in MR_METRICS:
            why = _not_e2e(sources)
            if why:
                unavailable[name] = why
            elif name == "ser":
                scores[name] = slot_error_rate(sources, hypotheses)
            else:
                scores[name] = float(texts_naming_other_restaurants(sources, hypotheses))
    return scores, unavailable


def _not_e2e(sources: Sequence[str] | None) -> str | None:
    """Why the MR metrics cannot score these sources (None: they can)."""
    if sources is None:
        return "needs the meaning representations (sources)"
    if not all("name" in parse_mr(s) for s in sources):
        return "sources are not E2E meaning representations with a name[...] slot"
    return None
