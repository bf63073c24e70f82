"""CommonGen, MultiWOZ-NLG and DailyDialog readers on fixtures and real files."""

import pytest

from privformers.data import TextPair, group_references
from privformers.data.commongen import read_commongen
from privformers.data.dailydialog import dialogue_pairs, read_dailydialog
from privformers.data.errors import DataFormatError
from privformers.data.multiwoz import linearise_acts, read_multiwoz_nlg


def test_commongen_fixture(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"concepts": ["dog", "run"], "target": "A dog runs."}\n'
        '{"concepts": ["dog", "run"], "target": "The dog is running."}\n'
    )
    assert group_references(read_commongen(path)) == [("dog, run", ["A dog runs.", "The dog is running."])]


def test_multiwoz_linearisation():
    acts = {
        "Hotel-Inform": [["Price", "cheap"], ["Name", "Allenbell"]],
        "general-reqmore": [["none", "none"]],
    }
    assert linearise_acts(acts) == "Hotel-Inform(Price=cheap, Name=Allenbell); general-reqmore(none=none)"


def test_multiwoz_bad_acts(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"acts": {}, "text": "hi"}\n')
    with pytest.raises(DataFormatError, match="acts"):
        read_multiwoz_nlg(path)


def test_dailydialog_context_window(tmp_path):
    turns = ["a", "b", "c", "d", "e"]
    assert dialogue_pairs(turns, max_context_turns=2)[-1] == TextPair("c __eou__ d", "e")
    path = tmp_path / "d.txt"
    path.write_text("Hi . __eou__ Hello ! __eou__ How are you ? __eou__\n")
    assert read_dailydialog(path) == [
        TextPair("Hi .", "Hello !"),
        TextPair("Hi . __eou__ Hello !", "How are you ?"),
    ]


@pytest.mark.parametrize(
    "reader,relative,minimum",
    [
        (read_commongen, "commongen/dev.jsonl", 4018),
        (read_commongen, "commongen/train.jsonl", 39069),
        (read_multiwoz_nlg, "multiwoz_nlg/val.jsonl", 7286),
        (read_dailydialog, "dailydialog/validation.txt", 1000),
    ],
)
def test_real_files(shared_file, reader, relative, minimum):
    pairs = reader(shared_file(relative))
    assert len(pairs) >= minimum
    assert all(p.source and p.target for p in pairs)
