"""Task names (``--task``) mapped to their readers, so commands can read any supported data set."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from privformers.data.classification import read_glue_tsv, read_imdb
from privformers.data.commongen import read_commongen
from privformers.data.dailydialog import read_dailydialog
from privformers.data.e2e import read_e2e
from privformers.data.errors import DataFormatError
from privformers.data.examples import LabelledText, TextPair
from privformers.data.hub import is_hub_name, reject_hub_name
from privformers.data.multiwoz import read_multiwoz_nlg
from privformers.data.webnlg import read_webnlg

READERS: dict[str, Callable[[str | Path], list[TextPair]]] = {
    "e2e": read_e2e,
    "webnlg": read_webnlg,
    "commongen": read_commongen,
    "multiwoz-nlg": read_multiwoz_nlg,
    "dailydialog": read_dailydialog,
}
CLASSIFICATION_READERS: dict[str, Callable[[str | Path], list[LabelledText]]] = {
    "sst2": read_glue_tsv,
    "imdb": read_imdb,
}


def read_pairs(task: str, path: str | Path) -> list[TextPair]:
    """Read the generation data set ``task`` from a local file (``hf:NAME`` gives a clear error)."""
    if task not in READERS:
        raise ValueError(f"unknown generation task {task!r}; choose one of {', '.join(sorted(READERS))}")
    if is_hub_name(path):
        reject_hub_name(str(path))
    return _read(READERS[task], path)


def read_labelled(task: str, path: str | Path) -> list[LabelledText]:
    """Read the classification data set ``task`` from a local file (``hf:NAME`` gives a clear error)."""
    if task not in CLASSIFICATION_READERS:
        known = ", ".join(sorted(CLASSIFICATION_READERS))
        raise ValueError(f"unknown classification task {task!r}; choose one of {known}")
    if is_hub_name(path):
        reject_hub_name(str(path))
    return _read(CLASSIFICATION_READERS[task], path)


def _read(reader: Callable[[str | Path], list], path: str | Path) -> list:
    """Run a reader; undecodable text and CSV-level errors become a DataFormatError naming the file only
    (a UnicodeDecodeError's message quotes the bad bytes; the row is data and stays out of the message)."""
    try:
        return reader(path)
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not valid UTF-8 text") from None
    except csv.Error as exc:  # e.g. "line contains NUL", "field larger than field limit": no content
        raise DataFormatError(f"{path}: not readable as CSV/TSV ({exc})") from None
