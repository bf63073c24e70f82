"""SST-2 / GLUE TSV and IMDb readers on fixtures and real files; the registry and hub-name errors."""

import pytest

from privformers.data import LabelledText, read_labelled, read_pairs
from privformers.data.classification import read_glue_tsv, read_imdb
from privformers.data.errors import DataFormatError


def test_glue_fixture(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text('sentence\tlabel\nit \'s "great" \t1\nawful\t0\n')
    assert read_glue_tsv(path) == [LabelledText('it \'s "great"', 1), LabelledText("awful", 0)]


def test_glue_test_file_without_labels(tmp_path):
    path = tmp_path / "test.tsv"
    path.write_text("index\tsentence\n0\tfine\n")
    with pytest.raises(DataFormatError, match="no labels"):
        read_glue_tsv(path)


def test_imdb_fixture_and_error(tmp_path):
    path = tmp_path / "i.txt"
    path.write_text("1 a fine film .\n0 dull .\n")
    assert read_imdb(path) == [LabelledText("a fine film .", 1), LabelledText("dull .", 0)]
    path.write_text("positive great\n")
    with pytest.raises(DataFormatError, match=":1:"):
        read_imdb(path)


@pytest.mark.parametrize(
    "task,relative,rows",
    [
        ("sst2", "sst2/train.tsv", 60614),
        ("sst2", "sst2/dev.tsv", 6735),
        ("imdb", "imdb/imdb_1000.txt", 1000),
    ],
)
def test_real_files(shared_file, task, relative, rows):
    items = read_labelled(task, shared_file(relative))
    assert len(items) == rows
    assert {item.label for item in items} == {0, 1}


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown generation task"):
        read_pairs("nope", "x")
    with pytest.raises(RuntimeError, match="hub"):
        read_pairs("e2e", "hf:e2e_nlg")
