"""Data sets for generation and classification: readers, linearisations and splits by source."""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "LabelledText": "examples",
    "TextPair": "examples",
    "group_references": "examples",
    "CLASSIFICATION_READERS": "registry",
    "READERS": "registry",
    "read_labelled": "registry",
    "read_pairs": "registry",
    "split_by_source": "splits",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
