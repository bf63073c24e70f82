"""The privacy ledger: every use of the private data, written into the output folder *before* it happens.

``OUT/privacy_ledger.json`` names the private data by a fingerprint of its rows and lists one entry per
phase attempt: its event (sampling rate, noise multiplier, steps), whether it finished, and where its
result is. An attempt counts from the moment it is recorded, so a run that crashes or is killed in the
middle of a private phase has still spent that phase's whole event; a resumed run reads the ledger,
counts every entry, and calibrates what is left against the remaining budget. It never restarts the
count, and it refuses a ledger that belongs to other data or to a run of the other kind (private or not).

The fingerprint is a salted SHA-256 over the sorted hashes of the normalised rows (``overlap.row_hash``),
so reordering the file or changing its line endings keeps it, and any changed, added or removed row
changes it. It is the data owner's record, like the teacher: someone holding the ledger and every row
but one could test guesses of that row against it, so do not publish the ledger with the student.
Cost: a hash per row (SST-2's 48k rows: under a second).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from privformers.pipeline.budget import PhaseEvent

LEDGER_FILE = "privacy_ledger.json"
FORMAT = 1


class LedgerError(ValueError):
    """The output folder's ledger does not fit this run (other data, other kind, or a resume not asked for)."""


def fingerprint(row_hashes: Iterable[bytes], salt: bytes) -> str:
    """Salted SHA-256 of the sorted row hashes (a multiset fingerprint, independent of row order)."""
    h = hashlib.sha256(salt)
    for row in sorted(row_hashes):
        h.update(row)
    return h.hexdigest()


@dataclass
class Entry:
    """One attempt of a phase on the private data, counted from the moment it is recorded."""

    phase: str
    sample_rate: float
    noise_multiplier: float | None   # None: the data was used without noise (non-private baseline)
    steps: int
    rows: int
    started: str
    status: str = "started"          # started | completed
    completed: str | None = None
    output: str | None = None

    def event(self) -> PhaseEvent:
        """The privacy event this attempt spent (its whole planned event, finished or not)."""
        return PhaseEvent(self.phase, self.sample_rate, self.noise_multiplier, self.steps)


@dataclass
class Ledger:
    """The ledger of one output folder: its private data, its kind, and its entries."""

    path: Path
    private: bool
    delta: float | None
    rows: int
    salt: str
    fingerprint: str
    entries: list[Entry] = field(default_factory=list)

    # --- reading and writing -----------------------------------------------------------------
    @classmethod
    def open(cls, out: Path, row_hashes: list[bytes], private: bool, delta: float | None,
             resume: bool) -> Ledger:
        """The folder's ledger, checked against this run, or a new one for an empty folder.

        Refused (LedgerError): a folder with a ledger without ``resume``; a ledger of other data, of the
        other kind, or at another delta; a folder with files but no ledger (its outputs would be counted
        by nobody); ``resume`` where there is nothing to resume."""
        out = Path(out)
        path = out / LEDGER_FILE
        if not path.is_file():
            if resume:
                raise LedgerError(f"--resume: {out} has no {LEDGER_FILE}: there is no pipeline run to continue")
            if out.is_dir() and any(out.iterdir()):
                raise LedgerError(f"{out} is not empty and has no {LEDGER_FILE}: whatever trained there on the "
                                  "private data is counted nowhere; choose a new or empty --out")
            salt = os.urandom(16).hex()
            ledger = cls(path, private, delta, len(row_hashes), salt, fingerprint(row_hashes, bytes.fromhex(salt)))
            out.mkdir(parents=True, exist_ok=True)
            ledger.save()
            return ledger
        if not resume:
            raise LedgerError(f"{out} already holds a pipeline run ({LEDGER_FILE}); pass --resume to continue it "
                              "(every event it spent is counted) or choose a new --out")
        ledger = cls.load(path)
        if fingerprint(row_hashes, bytes.fromhex(ledger.salt)) != ledger.fingerprint:
            raise LedgerError(f"--resume: the private data differs from the data {out}'s ledger counts "
                              f"({len(row_hashes)} rows now, {ledger.rows} then, and the rows' fingerprint differs); "
                              "a ledger counts one data set: use a new --out")
        if ledger.private != private:
            kind = "private" if ledger.private else "non-private"
            raise LedgerError(f"--resume: {out} holds a {kind} run; resume it as one, or use a new --out")
        if private and ledger.delta != delta:
            raise LedgerError(f"--resume: {out}'s ledger is at delta {ledger.delta}, not {delta}: epsilons at "
                              "different deltas do not add up; resume with its delta")
        return ledger

    @classmethod
    def load(cls, path: Path) -> Ledger:
        """Read a ledger file (LedgerError when it is not one of ours)."""
        try:
            data = json.loads(Path(path).read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            entries = [Entry(**e) for e in data["entries"]]
            return cls(Path(path), data["private"], data["delta"], data["rows"], data["salt"], data["fingerprint"],
                       entries)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"{path} is not a readable privacy ledger ({exc}); it cannot be resumed") from None

    def save(self) -> None:
        """Write atomically (a crash leaves the old or the new ledger, never half of one)."""
        data = {"format": FORMAT, "private": self.private, "delta": self.delta, "rows": self.rows,
                "salt": self.salt, "fingerprint": self.fingerprint, "entries": [asdict(e) for e in self.entries]}
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(json.dumps(data, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)

    # --- entries ---------------------------------------------------------------------------------
    def record(self, event: PhaseEvent, rows: int) -> Entry:
        """Count a phase attempt now, before it touches the data."""
        entry = Entry(event.phase, event.sample_rate, event.noise_multiplier, event.steps, rows, _now())
        self.entries.append(entry)
        self.save()
        return entry

    def complete(self, entry: Entry, output: str) -> None:
        """Mark an attempt finished, with the folder of its result."""
        entry.status, entry.completed, entry.output = "completed", _now(), output
        self.save()

    def completed(self, phase: str) -> Entry | None:
        """The finished attempt of ``phase``, if any."""
        return next((e for e in self.entries if e.phase == phase and e.status == "completed"), None)

    def events(self) -> list[PhaseEvent]:
        """Every event spent on the private data, in order (unfinished attempts included)."""
        return [e.event() for e in self.entries]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
