"""Data sets for generation and classification: readers, linearisations and splits by source."""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.data.examples import LabelledText as LabelledText
    from privformers.data.examples import TextPair as TextPair
    from privformers.data.examples import group_references as group_references
    from privformers.data.registry import CLASSIFICATION_READERS as CLASSIFICATION_READERS
    from privformers.data.registry import READERS as READERS
    from privformers.data.registry import read_labelled as read_labelled
    from privformers.data.registry import read_pairs as read_pairs
    from privformers.data.splits import split_by_source as split_by_source
