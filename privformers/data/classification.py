"""Classification readers: SST-2 / GLUE TSV (``sentence<TAB>label`` header) and IMDb (``label text``)."""

from __future__ import annotations

import csv
from pathlib import Path

from privformers.data.errors import DataFormatError, bad_line, existing_file
from privformers.data.examples import LabelledText


def read_glue_tsv(
    path: str | Path, text_column: str = "sentence", label_column: str = "label"
) -> list[LabelledText]:
    """Read a GLUE-style TSV with a header naming ``text_column`` and ``label_column`` (integer labels)."""
    path = existing_file(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        if text_column not in header or label_column not in header:
            raise DataFormatError(
                f"{path}:1: expected a TSV header with columns {text_column} and {label_column} (GLUE test files "
                "have no labels)"  # never the line itself: in a file without a header it is data
            )
        text_at, label_at = header.index(text_column), header.index(label_column)
        items = []
        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                items.append(LabelledText(row[text_at].strip(), int(row[label_at])))
            except (IndexError, ValueError):
                raise bad_line(
                    path, line_number, f"expected {len(header)} columns with an integer label"
                ) from None
    if not items:
        raise DataFormatError(f"{path}: no rows")
    return items


def read_imdb(path: str | Path) -> list[LabelledText]:
    """Read lines ``<label> <review text>`` (label 0 negative, 1 positive)."""
    path = existing_file(path)
    items = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            if not label.isdigit() or not text:
                raise bad_line(path, line_number, "expected '<integer label> <text>'")
            items.append(LabelledText(text, int(label)))
    if not items:
        raise DataFormatError(f"{path}: no reviews")
    return items
