"""Grouping sequences into secure passes: equal token lengths only, so no padding and nothing new
learned by the server (it knows each length already). Shared by classification and generation."""

from __future__ import annotations

from collections.abc import Sequence


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of the sequences grouped into passes: equal lengths only, at most batch_size per pass,
    shortest first. Every party computes the same grouping from the public lengths."""
    if batch_size < 1:
        raise ValueError("batch size must be >= 1")
    by_length: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        by_length.setdefault(int(n), []).append(i)
    passes = []
    for n in sorted(by_length):
        idx = by_length[n]
        passes += [idx[k:k + batch_size] for k in range(0, len(idx), batch_size)]
    return passes
