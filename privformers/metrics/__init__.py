"""Generation metrics computed with established libraries (sacrebleu, rouge-score, nltk, transformers)."""

from privformers.metrics.bertscore import BertScorer
from privformers.metrics.meteor import corpus_meteor, wordnet_available
from privformers.metrics.ngram import corpus_bleu, corpus_chrf_plus_plus
from privformers.metrics.nist import corpus_nist
from privformers.metrics.rouge import corpus_rouge_l
from privformers.metrics.suite import ALL_METRICS, DEFAULT_METRICS, compute_metrics

__all__ = [
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "BertScorer",
    "compute_metrics",
    "corpus_bleu",
    "corpus_chrf_plus_plus",
    "corpus_meteor",
    "corpus_nist",
    "corpus_rouge_l",
    "wordnet_available",
]
