"""MERGE's Merge Module and the attention of each supported family rewritten around it."""

from privformers.approx.merge.module import VARIANTS, MergeModule, merge_attention, merge_weights

__all__ = ["VARIANTS", "MergeModule", "merge_attention", "merge_weights"]
