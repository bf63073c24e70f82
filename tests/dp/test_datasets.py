"""Readers parse the shared SST-2 and E2E files and reject malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from privformers.data import TextPair
from privformers.dp.datasets import encode_pairs, pad_collate, read_classification_tsv

DATA = Path("/work/shared/data")


def test_reads_sst2():
    if not DATA.exists():
        pytest.skip("shared data not found")
    texts, labels = read_classification_tsv(DATA / "sst2" / "dev.tsv")
    assert len(texts) == len(labels) == 6735 and set(labels) == {0, 1}


def test_bad_header_raises(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabel\nhello\t1\n")
    with pytest.raises(ValueError, match="sentence<TAB>label"):
        read_classification_tsv(bad)


def test_pad_collate():
    batch = pad_collate(0)([{"input_ids": [5, 6], "attention_mask": [1, 1], "labels": [5, 6]},
                            {"input_ids": [7], "attention_mask": [1], "labels": [7]}])
    assert batch["input_ids"].tolist() == [[5, 6], [7, 0]]
    assert batch["labels"].tolist() == [[5, 6], [7, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0]]


class _CharTokenizer:
    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_encode_pairs_masks_the_prompt():
    (ex,) = encode_pairs(_CharTokenizer(), [TextPair("ab", "cd")], max_length=64)
    assert ex["input_ids"] == [ord(c) for c in "ab = cd"] + [0]
    assert ex["labels"] == [-100] * 4 + [ord(c) for c in " cd"] + [0]
    assert ex["attention_mask"] == [1] * 8
    (short,) = encode_pairs(_CharTokenizer(), [TextPair("ab", "cd")], max_length=5)
    assert len(short["input_ids"]) == len(short["labels"]) == 5


def test_malformed_rows_are_named_by_line_without_content(tmp_path):
    """Each problem names the file and line (blank lines count but are skipped) and never the row."""
    from privformers.data.errors import DataFormatError

    secret = "my secret SSN 123-45-6789"
    cases = {
        f"sentence\tlabel\nok\t1\n\n{secret}\n": (4, "expected TEXT<TAB>LABEL, found no tab"),
        f"sentence\tlabel\nok\t{secret}\n": (2, "the label is not a whole number >= 0"),
        f"sentence\tlabel\nok\t-1\n{secret}\t1\n": (2, "the label is not a whole number >= 0"),
        f"{secret}\t1\n": (1, "expected the header 'sentence<TAB>label'"),
        "sentence\tlabel\n\n": (None, "no rows"),
    }
    path = tmp_path / "d.tsv"
    for text, (line, reason) in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataFormatError) as info:
            read_classification_tsv(path)
        message = str(info.value)
        assert reason in message and "SSN" not in message, message
        assert info.value.__context__ is None or info.value.__suppress_context__
        if line is not None:
            assert message.startswith(f"{path}:{line}: ")
    path.write_bytes(b"sentence\tlabel\nok\t1\n" + secret.encode() + b"\xff\t0\n")
    with pytest.raises(DataFormatError, match=r"d\.tsv:3: not valid UTF-8 text$"):
        read_classification_tsv(path)


def test_a_byte_order_mark_and_crlf_are_fine(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffsentence\tlabel\r\nnice\t1\r\n\r\nbad\t0\r\n".encode())
    assert read_classification_tsv(path) == (["nice", "bad"], [1, 0])
