"""The metric names the suite computes (kept apart so the command line lists them without loading nltk)."""

DEFAULT_METRICS = ("bleu", "chrf++", "rouge-l", "nist", "meteor")
ALL_METRICS = (*DEFAULT_METRICS, "bertscore")
