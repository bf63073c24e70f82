"""The program registry: a party finds the programs of privformers, and the test suite's own only when asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from privformers.mpc.programs import PROGRAM_MODULES_ENV

REPO = Path(__file__).resolve().parents[2]
LOOKUP = f"""
import os
from privformers.mpc.programs import get_program

def unknown():
    out = []
    for name in ("linear-demo", "generate", "echo", "stall"):
        try:
            get_program(name)
        except KeyError:
            out.append(name)
    return out

print(unknown())
os.environ[{PROGRAM_MODULES_ENV!r}] = "tests.mpc.programs"
print(unknown())
"""


def test_the_test_programs_are_found_only_through_the_environment():
    """A fresh process, as a party is: echo and stall are not part of the package."""
    env = {k: v for k, v in os.environ.items() if k != PROGRAM_MODULES_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", LOOKUP], env=env, cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["['echo', 'stall']", "[]"]
