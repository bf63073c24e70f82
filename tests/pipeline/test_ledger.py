"""The privacy ledger: written before a phase runs, added to on resume, refused for other data or other runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privformers.data.examples import LabelledText
from privformers.pipeline.budget import PhaseEvent
from privformers.pipeline.ledger import LEDGER_FILE, Ledger, LedgerError, fingerprint
from privformers.pipeline.overlap import row_hash

ROWS = [LabelledText(f"a private sentence number {i} about zebras", i % 2) for i in range(20)]
HASHES = [row_hash(r) for r in ROWS]


def test_a_recorded_attempt_counts_before_it_finishes_and_a_resume_adds_to_it(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False)
    first = ledger.record(PhaseEvent("teacher", 0.1, 1.0, 30), 20)            # then the run dies
    again = Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=True)
    assert again.events() == [first.event()] and again.completed("teacher") is None
    second = again.record(PhaseEvent("teacher", 0.1, 2.0, 30), 20)
    again.complete(second, "teacher/final")
    final = Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=True)
    assert [e.noise_multiplier for e in final.events()] == [1.0, 2.0]          # both attempts counted, in order
    assert final.completed("teacher").output == "teacher/final"


def test_the_fingerprint_ignores_order_and_sees_any_changed_row(tmp_path: Path) -> None:
    salt = b"s" * 16
    assert fingerprint(HASHES, salt) == fingerprint(list(reversed(HASHES)), salt)
    changed = [*HASHES[:-1], row_hash(LabelledText("another sentence", 1))]
    assert fingerprint(changed, salt) != fingerprint(HASHES, salt)
    assert fingerprint(HASHES[:-1], salt) != fingerprint(HASHES, salt)
    assert fingerprint(HASHES, b"t" * 16) != fingerprint(HASHES, salt)        # salted per folder


def test_resuming_with_other_private_data_is_refused(tmp_path: Path) -> None:
    Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False).record(PhaseEvent("teacher", 0.1, 1.0, 5), 20)
    other = [*HASHES[:-1], row_hash(LabelledText("one changed row", 0))]
    with pytest.raises(LedgerError, match="private data differs") as caught:
        Ledger.open(tmp_path / "out", other, True, 1e-5, resume=True)
    assert "zebras" not in str(caught.value) and "changed row" not in str(caught.value)
    # control: the same rows resume fine
    assert len(Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=True).events()) == 1


def test_a_folder_with_a_run_needs_resume_and_a_matching_run(tmp_path: Path) -> None:
    Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False)
    with pytest.raises(LedgerError, match="pass --resume"):
        Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False)
    with pytest.raises(LedgerError, match="holds a private run"):
        Ledger.open(tmp_path / "out", HASHES, False, None, resume=True)
    with pytest.raises(LedgerError, match="delta"):
        Ledger.open(tmp_path / "out", HASHES, True, 1e-6, resume=True)
    with pytest.raises(LedgerError, match="no pipeline run to continue"):
        Ledger.open(tmp_path / "new", HASHES, True, 1e-5, resume=True)


def test_a_non_empty_folder_without_a_ledger_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.safetensors").write_bytes(b"trained somewhere")
    with pytest.raises(LedgerError, match="counted nowhere"):
        Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False)


def test_the_ledger_holds_no_row(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=False)
    ledger.record(PhaseEvent("teacher", 0.1, 1.0, 5), 20)
    text = (tmp_path / "out" / LEDGER_FILE).read_text()
    assert "zebras" not in text and "private sentence" not in text
    assert json.loads(text)["rows"] == 20
    # a ledger that is not one is refused with the reason, not loaded half
    (tmp_path / "out" / LEDGER_FILE).write_text("{}")
    with pytest.raises(LedgerError, match="not a readable privacy ledger"):
        Ledger.open(tmp_path / "out", HASHES, True, 1e-5, resume=True)
