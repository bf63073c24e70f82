"""METEOR via nltk, which needs the WordNet corpus; tells clearly when that data is not installed."""

from __future__ import annotations

from collections.abc import Sequence

from privformers.metrics.references import check_lengths


def wordnet_available() -> bool:
    """True when nltk can load WordNet (METEOR's synonym stage); it is a separate download."""
    try:
        from nltk.corpus import wordnet

        wordnet.synsets("dog")
    except LookupError:
        return False
    return True


def corpus_meteor(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Mean nltk METEOR (multi-reference) on a 0-100 scale; RuntimeError if WordNet is missing."""
    check_lengths(hypotheses, references)
    if not wordnet_available():
        raise RuntimeError(
            "METEOR needs nltk's WordNet data, which is not installed (and cannot be downloaded offline); "
            "install it with `python -m nltk.downloader wordnet omw-1.4`"
        )
    from nltk.translate.meteor_score import meteor_score

    scores = [meteor_score([r.split() for r in refs], h.split()) for h, refs in zip(hypotheses, references)]
    return 100.0 * sum(scores) / len(scores)
