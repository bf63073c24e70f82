"""Locate the shared real data sets; tests that need them skip with a clear reason when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = (REPO_ROOT.parent / "shared" / "data", Path("/work/shared/data"))


def shared_data_dir() -> Path | None:
    """The first existing shared data folder, or None."""
    return next((path for path in CANDIDATES if path.is_dir()), None)


@pytest.fixture
def shared_file():
    """Return a function giving a path inside the shared data folder, skipping if it is missing."""

    def locate(relative: str) -> Path:
        base = shared_data_dir()
        if base is None:
            pytest.skip(f"shared data folder not found (looked in {', '.join(map(str, CANDIDATES))})")
        path = base / relative
        if not path.is_file():
            pytest.skip(f"shared data file {path} not found")
        return path

    return locate
