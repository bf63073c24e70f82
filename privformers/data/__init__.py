"""Data sets for generation and classification: readers, linearisations and splits by source."""

from privformers.data.examples import LabelledText, TextPair, group_references
from privformers.data.registry import CLASSIFICATION_READERS, READERS, read_labelled, read_pairs
from privformers.data.splits import split_by_source

__all__ = [
    "LabelledText",
    "TextPair",
    "CLASSIFICATION_READERS",
    "READERS",
    "group_references",
    "read_labelled",
    "read_pairs",
    "split_by_source",
]
