"""E2E reader: fixture CSV, the real dev set, and clear errors."""

import pytest

from privformers.data import group_references
from privformers.data.e2e import linearise_e2e_mr, read_e2e
from privformers.data.errors import DataFormatError


def test_fixture_rows_and_grouping(tmp_path):
    path = tmp_path / "e2e.csv"
    path.write_text(
        'mr,ref\n"name[A], area[city centre]","A is central."\n"name[A], area[city centre]","A is in town."\n'
        '"name[B],  food[Thai]","B serves Thai."\n'
    )
    pairs = read_e2e(path)
    assert [p.target for p in pairs] == ["A is central.", "A is in town.", "B serves Thai."]
    assert group_references(pairs) == [
        ("name[A], area[city centre]", ["A is central.", "A is in town."]),
        ("name[B], food[Thai]", ["B serves Thai."]),
    ]


def test_linearisation_normalises_spacing():
    assert linearise_e2e_mr("name[X],eatType[pub] ,  near[Y]") == "name[X], eatType[pub], near[Y]"


def test_real_devset(shared_file):
    pairs = read_e2e(shared_file("e2e/devset.csv"))
    assert len(pairs) == 4672
    assert len(group_references(pairs)) == 547
    assert pairs[0].source == "name[Alimentum], area[city centre], familyFriendly[no]"


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_e2e(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("meaning,text\na,b\n")
    with pytest.raises(DataFormatError, match="mr,ref"):
        read_e2e(bad)
