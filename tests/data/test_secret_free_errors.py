"""Readers' errors name the file, the line and the problem, never a row's content (issue 29, item 6): data is
what the private paths protect, and error messages end up in terminals, logs and bug reports."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from privformers.data import read_labelled, read_pairs
from privformers.data.errors import DataFormatError

CANARY = "my secret SSN 123-45-6789"
CASES = [  # (reader task, file name, content): the canary is in the row that is wrong
    ("e2e", "mr.csv", f'mr,ref\n"name[A]",fine\n"{CANARY}",a ref\n'),
    ("e2e", "headerless.csv", f'"name[{CANARY}]",a ref\n'),
    ("webnlg", "triples.jsonl", f'{{"triples": ["A | p | B"], "texts": ["t"]}}\n{{"triples": ["{CANARY}"], '
                                '"texts": ["t"]}\n'),
    ("sst2", "headerless.tsv", f"{CANARY}\t1\nfine\t0\n"),
    ("sst2", "label.tsv", f"sentence\tlabel\nfine\t1\ntext\t{CANARY}\n"),
    ("e2e", "utf8.csv", b'mr,ref\n"name[A]",' + CANARY.encode() + b"\xff\n"),
]


def _error_text(task: str, path: Path) -> str:
    """The message and the whole traceback (chained exceptions included) of reading path with task's reader."""
    read = read_labelled if task in ("sst2", "imdb") else read_pairs
    with pytest.raises((DataFormatError, ValueError)) as info:
        read(task, path)
    assert isinstance(info.value, DataFormatError), info.value
    return "".join(traceback.format_exception(info.type, info.value, info.tb))


@pytest.mark.parametrize(("task", "name", "content"), CASES, ids=[c[1] for c in CASES])
def test_errors_do_not_quote_the_row(tmp_path: Path, task: str, name: str, content: str | bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    text = _error_text(task, path)
    assert str(path) in text
    assert "SSN" not in text and "123-45" not in text


def test_the_check_sees_a_quoted_row(tmp_path: Path) -> None:
    """Negative control: the error of a helper that quotes its input (linearise_e2e_mr, called directly) is
    caught by the same check."""
    from privformers.data.e2e import linearise_e2e_mr

    with pytest.raises(ValueError) as info:
        linearise_e2e_mr(CANARY)
    assert "SSN" in "".join(traceback.format_exception(info.type, info.value, info.tb))


def test_line_numbers_point_at_the_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "mr.csv"
    path.write_text(f'mr,ref\n"name[A]",fine\n"{CANARY}",a ref\n')
    with pytest.raises(DataFormatError, match=r"mr\.csv:3: mr is not an E2E meaning representation"):
        read_pairs("e2e", path)
