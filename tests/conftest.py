"""Shared test setup: single-threaded torch (parties share two cores), the test-only party programs and the data
folder."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from privformers.mpc.programs import PROGRAM_MODULES_ENV

torch.set_num_threads(1)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# the test-only programs (echo, stall): party processes, which inherit the environment, import them from here
os.environ.setdefault(PROGRAM_MODULES_ENV, "tests.mpc.programs")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = next((p for p in (REPO.parent / "shared" / "data", Path("/work/shared/data")) if p.is_dir()), None)


@pytest.fixture
def shared_data() -> Path:
    """The real data sets (../shared/data); tests that need them skip when absent."""
    if SHARED_DATA is None:
        pytest.skip("../shared/data is absent: real-data test skipped")
    return SHARED_DATA


@pytest.fixture
def short_switch_interval() -> Iterator[None]:
    """For long runs with the three parties as threads of one process: hand the GIL over sooner
    (with CPython's default 5 ms an op that releases it can wait that long to get it back; two tokens
    of the built-in model took 31 s instead of 41 s in one measurement on the loaded 2-core machine)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(2e-4)
    yield
    sys.setswitchinterval(before)
