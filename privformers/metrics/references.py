"""Reshape per-hypothesis reference lists into the reference streams sacrebleu expects."""

from __future__ import annotations

from collections.abc import Sequence


def check_lengths(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    """Raise ValueError unless there is one non-empty reference list per hypothesis."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if any(len(refs) == 0 for refs in references):
        raise ValueError("every hypothesis needs at least one reference")


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """Transpose ragged reference lists into streams, padding short lists with None (sacrebleu's rule)."""
    width = max(len(refs) for refs in references)
    return [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]
