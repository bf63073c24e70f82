"""``--nproc N``: run a privformers command on N local processes with torch's own launcher (torchrun).

The command line, less ``--nproc``, is run again as ``python -m torch.distributed.run --standalone
--nproc-per-node N -m privformers.cli ...`` in a subprocess; each child sees ``WORLD_SIZE`` and joins
the job instead of launching again. (``--nproc`` must go: torchrun's parser reads it as an ambiguous
abbreviation of its own ``--nproc-per-node`` even after the module name.) Children get this
interpreter, the folder holding ``privformers`` first on ``PYTHONPATH`` (so a source checkout is
imported, not another install), and ``OMP_NUM_THREADS`` set to the command's ``--threads``.
Cost: one more interpreter start-up (a few seconds) and the ranks' own start-up, each loading
torch, the data and the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import privformers


def without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less ``--nproc N`` and ``--nproc=N``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command line that runs ``privformers ARGV`` (less ``--nproc``) on ``nproc`` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "privformers.cli", *without_nproc(argv)]


def child_env(threads: int) -> dict[str, str]:
    """This environment with privformers' folder first on PYTHONPATH and OMP_NUM_THREADS set."""
    env = dict(os.environ)
    root = str(Path(privformers.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def launch(nproc: int, argv: list[str], threads: int = 1) -> int:
    """Run ``privformers ARGV`` on ``nproc`` processes; their output goes to this one's; returns the exit
    status (non-zero when any rank failed: torchrun then stops the others and names the failed rank)."""
    return subprocess.run(torchrun_command(nproc, argv), env=child_env(threads)).returncode
