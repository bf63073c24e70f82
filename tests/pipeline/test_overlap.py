"""Public and held-out rows equal to private rows are found by normalised content and refused (or dropped),
with counts and row numbers in the message and never a row."""

from __future__ import annotations

import pytest

from privformers.data.examples import LabelledText, TextPair
from privformers.pipeline.overlap import OverlapError, apply_policy, find_overlap, normalise, row_hash

SECRET = "my neighbour's diagnosis came back positive"
PRIVATE = [LabelledText(SECRET, 1), LabelledText("an ordinary private line", 0)]
HASHES = {row_hash(r) for r in PRIVATE}


def test_formatting_does_not_hide_a_copy() -> None:
    assert normalise("  My  Neighbour's\tDIAGNOSIS\u00a0came back positive ") == normalise(SECRET)
    assert normalise("ﬁne") == normalise("fine")          # NFKC: the ligature is two letters
    assert row_hash(LabelledText(SECRET.upper(), 0)) == row_hash(PRIVATE[0])   # another label: still that sentence


def test_an_overlap_is_refused_with_counts_and_row_numbers_never_the_row() -> None:
    public = [LabelledText("a public line", 0), LabelledText(SECRET.upper() + "  ", 0), LabelledText("more", 1)]
    overlap = find_overlap("public", "public.tsv", public, HASHES)
    assert overlap.indices == (1,)
    with pytest.raises(OverlapError) as caught:
        apply_policy(overlap, public, "refuse")
    message = str(caught.value)
    assert "1 of the 3 public rows of public.tsv" in message and "data rows 2" in message
    assert "diagnosis" not in message.lower() and "a public line" not in message


def test_drop_leaves_out_only_the_overlapping_rows() -> None:
    public = [LabelledText("a public line", 0), LabelledText(SECRET, 1), LabelledText("more", 1)]
    kept = apply_policy(find_overlap("public", "p", public, HASHES), public, "drop")
    assert kept == [public[0], public[2]]
    clean = [LabelledText("nothing private here", 0)]     # control: no overlap, nothing dropped or refused
    assert apply_policy(find_overlap("public", "p", clean, HASHES), clean, "refuse") == clean


def test_a_pair_overlaps_only_as_a_whole() -> None:
    private = {row_hash(TextPair("name[Zizzi]", "Zizzi is a pub."))}
    same = [TextPair("name[Zizzi] ", "zizzi is a  pub.")]
    other_reference = [TextPair("name[Zizzi]", "Zizzi serves beer.")]
    assert find_overlap("held-out", "t", same, private).indices == (0,)
    assert find_overlap("held-out", "t", other_reference, private).indices == ()


def test_many_overlaps_name_ten_rows_and_a_count() -> None:
    public = [LabelledText(SECRET, 1)] * 25
    message = find_overlap("public", "p", public, HASHES).describe()
    assert "25 of the 25" in message and "and 15 more" in message
