"""Readers parse the shared SST-2 and E2E files and reject malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from privformers.dp.datasets import pad_collate, read_classification_tsv, read_table_to_text_csv

DATA = Path("/work/shared/data")


def test_reads_sst2_and_e2e():
    if not DATA.exists():
        pytest.skip("shared data not found")
    texts, labels = read_classification_tsv(DATA / "sst2" / "dev.tsv")
    assert len(texts) == len(labels) == 6735 and set(labels) == {0, 1}
    pairs = read_table_to_text_csv(DATA / "e2e" / "devset.csv")
    assert len(pairs) == 4672 and pairs[0][0].startswith("name[")


def test_bad_header_raises(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabel\nhello\t1\n")
    with pytest.raises(ValueError, match="sentence<TAB>label"):
        read_classification_tsv(bad)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="mr,ref"):
        read_table_to_text_csv(bad_csv)


def test_pad_collate():
    batch = pad_collate(0)([{"input_ids": [5, 6], "attention_mask": [1, 1], "labels": [5, 6]},
                            {"input_ids": [7], "attention_mask": [1], "labels": [7]}])
    assert batch["input_ids"].tolist() == [[5, 6], [7, 0]]
    assert batch["labels"].tolist() == [[5, 6], [7, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0]]
