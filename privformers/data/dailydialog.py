"""DailyDialog reader: a line of ``__eou__``-separated turns gives (preceding turns -> next turn) pairs."""

from __future__ import annotations

from pathlib import Path

from privformers.data.errors import DataFormatError, existing_file
from privformers.data.examples import TextPair

TURN_SEPARATOR = " __eou__ "


def dialogue_pairs(turns: list[str], max_context_turns: int = 3) -> list[TextPair]:
    """For each turn after the first: the last ``max_context_turns`` turns joined by `` __eou__ `` -> it."""
    return [
        TextPair(TURN_SEPARATOR.join(turns[max(0, i - max_context_turns) : i]), turns[i])
        for i in range(1, len(turns))
    ]


def read_dailydialog(path: str | Path, max_context_turns: int = 3) -> list[TextPair]:
    """Read one dialogue a line (turns separated by ``__eou__``) into context -> response pairs."""
    path = existing_file(path)
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            turns = [turn.strip() for turn in line.split("__eou__") if turn.strip()]
            pairs.extend(dialogue_pairs(turns, max_context_turns))
    if not pairs:
        raise DataFormatError(f"{path}: no dialogue with two or more __eou__-separated turns")
    return pairs
