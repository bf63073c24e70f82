"""WebNLG reader (our JSONL and the official XML): triples ``s | p | o`` joined by ``; `` -> text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from privformers.data.errors import DataFormatError, bad_line, existing_file
from privformers.data.examples import TextPair
from privformers.data.jsonl import read_jsonl


def linearise_triples(triples: list[str]) -> str:
    """``A_B | p | C_D`` -> ``A B | p | C D`` (underscores to spaces); triples joined by ``; ``."""
    cleaned = []
    for triple in triples:
        parts = [part.strip().replace("_", " ") for part in triple.split("|")]
        if len(parts) != 3:
            raise ValueError(f"a triple needs subject | predicate | object, got {triple!r}")
        cleaned.append(" | ".join(parts))
    return "; ".join(cleaned)


def read_webnlg(path: str | Path) -> list[TextPair]:
    """Read WebNLG from ``.xml`` (official release) or ``.jsonl`` (``triples`` + ``texts``) into pairs."""
    path = existing_file(path)
    if path.suffix.lower() == ".xml":
        return read_webnlg_xml(path)
    pairs = []
    for line_number, record in read_jsonl(path, ("triples", "texts")):
        try:
            source = linearise_triples(record["triples"])
        except ValueError:  # its message quotes the triple: say what is wrong, not what the row holds
            raise bad_line(path, line_number, "a triple needs subject | predicate | object") from None
        pairs.extend(TextPair(source, text.strip()) for text in record["texts"] if text.strip())
    if not pairs:
        raise DataFormatError(f"{path}: no WebNLG entries")
    return pairs


def lex_text(lex: ET.Element) -> str:
    """Text of a ``<lex>``: its own text (2017 release) or its ``<text>`` child (later releases)."""
    child = lex.find("text")
    return ((child.text if child is not None else lex.text) or "").strip()


def read_webnlg_xml(path: Path) -> list[TextPair]:
    """Official WebNLG XML: each ``<entry>``'s ``<modifiedtripleset>`` -> each of its ``<lex>`` texts."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise DataFormatError(f"{path}: not valid XML ({error})") from None
    pairs = []
    for entry in root.iter("entry"):
        triples = [(t.text or "").strip() for t in entry.iter("mtriple")]
        if not triples:
            raise DataFormatError(f"{path}: entry {entry.get('eid')} has no <mtriple>")
        source = linearise_triples(triples)
        pairs.extend(TextPair(source, text) for text in map(lex_text, entry.iter("lex")) if text)
    if not pairs:
        raise DataFormatError(f"{path}: no WebNLG <entry> with <lex> texts")
    return pairs
