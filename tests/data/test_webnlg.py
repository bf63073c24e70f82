"""WebNLG reader: JSONL fixture, official XML fixture (both lex styles), the real files."""

import pytest

from privformers.data import group_references
from privformers.data.errors import DataFormatError
from privformers.data.webnlg import linearise_triples, read_webnlg

XML = """<?xml version="1.0" ?>
<benchmark><entries>
<entry category="Airport" eid="Id1" size="1">
  <originaltripleset><otriple>Aarhus | leaderName | Jacob_Bundsgaard</otriple></originaltripleset>
  <modifiedtripleset><mtriple>Aarhus | leaderName | Jacob_Bundsgaard</mtriple></modifiedtripleset>
  <lex comment="good" lid="Id1">The leader of Aarhus is Jacob Bundsgaard.</lex>
  <lex comment="good" lid="Id2"><text>Jacob Bundsgaard leads Aarhus.</text></lex>
</entry>
</entries></benchmark>
"""


def test_linearise_triples():
    assert linearise_triples(["A_B | p | C", "A_B | q | 2"]) == "A B | p | C; A B | q | 2"
    with pytest.raises(ValueError):
        linearise_triples(["only | two"])


def test_jsonl_fixture(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text('{"triples": ["X | p | Y_Z"], "texts": ["X p Y Z.", "Y Z is p of X."]}\n')
    assert group_references(read_webnlg(path)) == [("X | p | Y Z", ["X p Y Z.", "Y Z is p of X."])]


def test_xml_fixture(tmp_path):
    path = tmp_path / "w.xml"
    path.write_text(XML)
    assert group_references(read_webnlg(path)) == [
        (
            "Aarhus | leaderName | Jacob Bundsgaard",
            ["The leader of Aarhus is Jacob Bundsgaard.", "Jacob Bundsgaard leads Aarhus."],
        )
    ]


def test_bad_jsonl_names_line(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text('{"triples": ["a | b | c"], "texts": ["t"]}\n{"triples": []}\n')
    with pytest.raises(DataFormatError, match=":2:"):
        read_webnlg(path)


@pytest.mark.parametrize("name,entries", [("train", 6940), ("dev", 872)])
def test_real_files(shared_file, name, entries):
    pairs = read_webnlg(shared_file(f"webnlg/{name}.jsonl"))
    assert len(pairs) >= entries
    assert all(" | " in p.source and p.target for p in pairs[:50])
