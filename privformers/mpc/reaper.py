"""A watchdog for the local launcher: ends its party processes and deletes its folders when the
launcher dies without doing so itself.

Why: the launcher cleans up after itself on SIGINT, SIGTERM and SIGHUP (``launch.py``), but nothing
runs in a process killed by SIGKILL (or by the out-of-memory killer). Its three parties would go on
running, and its folders, which hold the parties' TLS keys and the client's log with its token
ids, would stay on disk. This small process outlives it and does the cleaning.

How: the launcher starts ``python -m privformers.mpc.reaper`` in a session of its own (a terminal's
Ctrl-C does not reach it) and keeps the write end of its stdin. It writes one line per thing to
clean up (``group PGID``: a party's process group; ``path DIR``: a folder), then ``done`` once it
has cleaned up itself. End of input without ``done`` means the launcher is gone: the reaper kills
every group with SIGKILL and removes every folder. Cost: one small Python process per launch
(about 20 ms of CPU; it imports neither torch nor the rest of privformers) and a line per item.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys


def clean(groups: list[int], paths: list[str]) -> None:
    """Kill each process group (already gone is fine) and remove each folder (missing is fine)."""
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def watch(lines: object) -> bool:
    """Read the launcher's lines until ``done`` (True: nothing to do) or end of input (False: the
    launcher died; everything it named is cleaned up here)."""
    groups: list[int] = []
    paths: list[str] = []
    for raw in lines:
        kind, _, value = raw.rstrip("\n").partition(" ")
        if kind == "done":
            return True
        if kind == "group" and value.isdigit():
            groups.append(int(value))
        elif kind == "path" and value:
            paths.append(value)
    clean(groups, paths)
    if groups or paths:
        print(f"[launch] the launcher ended without cleaning up: ended {len(groups)} party process(es) and "
              f"removed {len(paths)} folder(s)", file=sys.stderr, flush=True)
    return False


def main() -> int:
    # In a session of its own no terminal signal reaches it; a hang-up or termination sent to it
    # directly must not stop it before the launcher has either finished or died.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    watch(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
