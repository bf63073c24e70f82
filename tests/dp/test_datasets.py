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
