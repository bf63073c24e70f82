"""E2E NLG reader: CSV with columns ``mr,ref``; the MR is already linearised as ``name[X], area[Y]``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from privformers.data.errors import DataFormatError, bad_line, existing_file
from privformers.data.examples import TextPair

SLOT = re.compile(r"\s*([^,\[\]]+?)\s*\[([^\]]*)\]")


def linearise_e2e_mr(mr: str) -> str:
    """Normalise an E2E meaning representation to ``slot[value], slot[value]`` with single spaces."""
    slots = SLOT.findall(mr)
    if not slots:
        raise ValueError(f"not an E2E meaning representation (slot[value], ...): {mr!r}")
    return ", ".join(f"{slot}[{value.strip()}]" for slot, value in slots)


def read_e2e(path: str | Path) -> list[TextPair]:
    """Read an E2E CSV file (``mr,ref`` header) into (MR, reference) pairs, one per row."""
    path = existing_file(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if "mr" not in header or "ref" not in header:
            # never the line itself: in a file without a header it is data
            raise DataFormatError(f"{path}:1: expected a CSV header with columns mr,ref")
        pairs = []
        for line_number, row in enumerate(reader, start=2):
            mr, ref = (row.get("mr") or "").strip(), (row.get("ref") or "").strip()
            if not mr or not ref:
                raise bad_line(path, line_number, "empty mr or ref")
            try:
                pairs.append(TextPair(linearise_e2e_mr(mr), ref))
            except ValueError:  # its message quotes the MR: say what is wrong, not what the row holds
                raise bad_line(path, line_number, "mr is not an E2E meaning representation (slot[value], ...)") \
                    from None
    if not pairs:
        raise DataFormatError(f"{path}: no rows")
    return pairs
