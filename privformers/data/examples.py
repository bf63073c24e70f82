"""The two shapes every reader produces: (source, target) pairs and (text, label) items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TextPair:
    """One generation example: a linearised source and one reference target."""

    source: str
    target: str


@dataclass(frozen=True)
class LabelledText:
    """One classification example: a text and its integer label."""

    text: str
    label: int


def group_references(pairs: Iterable[TextPair]) -> list[tuple[str, list[str]]]:
    """Group targets by source, in first-seen order, for multi-reference evaluation."""
    grouped: dict[str, list[str]] = {}
    for pair in pairs:
        grouped.setdefault(pair.source, []).append(pair.target)
    return list(grouped.items())
