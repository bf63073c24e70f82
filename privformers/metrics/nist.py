"""Corpus NIST (5-gram) from nltk, on sacrebleu's 13a tokenisation; needs no downloaded data."""

from __future__ import annotations

from collections.abc import Sequence

from nltk.translate.nist_score import corpus_nist as nltk_corpus_nist
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from privformers.metrics.references import check_lengths


def corpus_nist(hypotheses: Sequence[str], references: Sequence[Sequence[str]], n: int = 5) -> float:
    """nltk corpus NIST with up to ``n``-grams (fewer if every hypothesis is shorter); 13a-tokenised."""
    check_lengths(hypotheses, references)
    tokenize = Tokenizer13a()
    hyps = [tokenize(h).split() for h in hypotheses]
    refs = [[tokenize(r).split() for r in rs] for rs in references]
    longest = max(len(h) for h in hyps)
    if longest == 0:
        return 0.0
    # nltk divides by zero when no hypothesis has any n-gram of some order; such orders add nothing
    return float(nltk_corpus_nist(refs, hyps, n=min(n, longest)))
