"""Generation metrics computed with established libraries (sacrebleu, rouge-score, nltk, transformers)."""

from privformers.metrics.ngram import corpus_bleu, corpus_chrf_plus_plus

__all__ = ["corpus_bleu", "corpus_chrf_plus_plus"]
