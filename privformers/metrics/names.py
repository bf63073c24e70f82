"""The metric names the suite computes (kept apart so the command line lists them without loading nltk)."""

DEFAULT_METRICS = ("bleu", "chrf++", "rouge-l", "nist", "meteor")
# ser: slot error rate of E2E texts (needs the MRs); other-names: texts naming another E2E restaurant
MR_METRICS = ("ser", "other-names")
ALL_METRICS = (*DEFAULT_METRICS, "bertscore", *MR_METRICS)
