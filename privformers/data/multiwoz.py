"""MultiWOZ-NLG reader: dialogue acts ``Hotel-Inform(Price=cheap, Name=Allenbell)`` -> system response."""

from __future__ import annotations

from pathlib import Path

from privformers.data.errors import DataFormatError, bad_line
from privformers.data.examples import TextPair
from privformers.data.jsonl import read_jsonl


def linearise_acts(acts: dict[str, list[list[str]]]) -> str:
    """``{"Hotel-Request": [["Price", "?"]]}`` -> ``Hotel-Request(Price=?)``; acts joined by ``; ``."""
    parts = []
    for act, slots in acts.items():
        inner = ", ".join(f"{slot}={value}" for slot, value in slots)
        parts.append(f"{act}({inner})")
    return "; ".join(parts)


def read_multiwoz_nlg(path: str | Path) -> list[TextPair]:
    """Read JSONL ``{dialogue, turn, acts, text}`` into (linearised acts, response) pairs."""
    pairs = []
    for line_number, record in read_jsonl(path, ("acts", "text")):
        acts = record["acts"]
        if not isinstance(acts, dict) or not acts:
            raise bad_line(Path(path), line_number, "acts must be a non-empty object")
        try:
            source = linearise_acts(acts)
        except (TypeError, ValueError):
            raise bad_line(Path(path), line_number, "each act needs a list of [slot, value] pairs") from None
        pairs.append(TextPair(source, str(record["text"]).strip()))
    if not pairs:
        raise DataFormatError(f"{path}: no MultiWOZ-NLG pairs")
    return pairs
