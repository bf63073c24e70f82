"""Generation metrics computed with established libraries (sacrebleu, rouge-score, nltk, transformers)."""

from typing import TYPE_CHECKING

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
    "slot_error_rate": "slot_error",
    "slot_errors": "slot_error",
    "texts_naming_other_restaurants": "slot_error",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.metrics.bertscore import BertScorer as BertScorer
    from privformers.metrics.meteor import corpus_meteor as corpus_meteor
    from privformers.metrics.meteor import wordnet_available as wordnet_available
    from privformers.metrics.names import ALL_METRICS as ALL_METRICS
    from privformers.metrics.names import DEFAULT_METRICS as DEFAULT_METRICS
    from privformers.metrics.ngram import corpus_bleu as corpus_bleu
    from privformers.metrics.ngram import corpus_chrf_plus_plus as corpus_chrf_plus_plus
    from privformers.metrics.nist import corpus_nist as corpus_nist
    from privformers.metrics.rouge import corpus_rouge_l as corpus_rouge_l
    from privformers.metrics.slot_error import slot_error_rate as slot_error_rate
    from privformers.metrics.slot_error import slot_errors as slot_errors
    from privformers.metrics.slot_error import texts_naming_other_restaurants as texts_naming_other_restaurants
    from privformers.metrics.suite import compute_metrics as compute_metrics
