"""The error readers raise for a missing or malformed data file, naming the file and the line."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file does not have the format its reader expects."""


def existing_file(path: str | Path) -> Path:
    """Return ``path`` as a Path, or raise FileNotFoundError with a readable message."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return path


def bad_line(path: Path, line_number: int, problem: str) -> DataFormatError:
    """Build a DataFormatError that points at one line of a file."""
    return DataFormatError(f"{path}:{line_number}: {problem}")
