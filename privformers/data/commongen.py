"""CommonGen reader: JSONL ``{concepts, target}``; the concept set is linearised as ``field, stand, look``."""

from __future__ import annotations

from pathlib import Path

from privformers.data.errors import DataFormatError, bad_line
from privformers.data.examples import TextPair
from privformers.data.jsonl import read_jsonl


def read_commongen(path: str | Path) -> list[TextPair]:
    """Read CommonGen pairs; the same concept set on several lines gives several references."""
    pairs = []
    for line_number, record in read_jsonl(path, ("concepts", "target")):
        concepts = record["concepts"]
        if not isinstance(concepts, list) or not concepts or not str(record["target"]).strip():
            raise bad_line(Path(path), line_number, "concepts must be a non-empty list and target non-empty")
        pairs.append(TextPair(", ".join(str(c).strip() for c in concepts), str(record["target"]).strip()))
    if not pairs:
        raise DataFormatError(f"{path}: no CommonGen pairs")
    return pairs
