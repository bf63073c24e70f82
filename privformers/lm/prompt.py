"""Text format of a data-to-text example: ``<source> = <target><eos>``; generation continues after ``=``."""

from __future__ import annotations

SEPARATOR = " ="


def format_prompt(source: str) -> str:
    """The prompt a model continues: the linearised source followed by the separator."""
    return source.strip() + SEPARATOR


def format_target(target: str) -> str:
    """The continuation the model learns after the prompt (a leading space, as after any word)."""
    return " " + target.strip()
