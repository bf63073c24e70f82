"""Generation metrics computed with established libraries (sacrebleu, rouge-score, nltk, transformers)."""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "BertScorer": "bertscore",
    "corpus_meteor": "meteor",
    "wordnet_available": "meteor",
    "corpus_bleu": "ngram",
    "corpus_chrf_plus_plus": "ngram",
    "corpus_nist": "nist",
    "corpus_rouge_l": "rouge",
    "ALL_METRICS": "names",
    "DEFAULT_METRICS": "names",
    "compute_metrics": "suite",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
