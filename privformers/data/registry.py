"""Task names (``--task``) mapped to their readers, so commands can read any supported data set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from privformers.data.e2e import read_e2e
from privformers.data.examples import LabelledText, TextPair

READERS: dict[str, Callable[[str | Path], list[TextPair]]] = {
    "e2e": read_e2e,
}
CLASSIFICATION_READERS: dict[str, Callable[[str | Path], list[LabelledText]]] = {}


def read_pairs(task: str, path: str | Path) -> list[TextPair]:
    """Read a generation data set named by ``task`` from a local file path or, if possible, the hub."""
    if task not in READERS:
        raise ValueError(f"unknown generation task {task!r}; choose one of {', '.join(sorted(READERS))}")
    return READERS[task](path)


def read_labelled(task: str, path: str | Path) -> list[LabelledText]:
    """Read a classification data set named by ``task`` from a local file path."""
    if task not in CLASSIFICATION_READERS:
        known = ", ".join(sorted(CLASSIFICATION_READERS))
        raise ValueError(f"unknown classification task {task!r}; choose one of {known}")
    return CLASSIFICATION_READERS[task](path)
