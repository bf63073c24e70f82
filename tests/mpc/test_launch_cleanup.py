"""The launcher leaves nothing behind: however it ends (SIGTERM, SIGINT, SIGHUP, SIGKILL, or its own
parent dying), its party processes end and its folders (party keys, the client's log) are deleted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from privformers.mpc.launch import _env

ROOT = Path(__file__).resolve().parents[2]


def processes_with(text: str) -> list[int]:
    """Live (not zombie) processes whose command line contains text."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(check, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {seconds} s")


def start_stalled_session(tmp: Path, parent_wrapper: bool = False) -> subprocess.Popen:
    """A launcher of the ``stall`` program (TLS, so both folders exist), its folders in tmp; returns once all
    three parties are connected. With parent_wrapper the launcher is the child of a sleeping Python
    process, which is what the returned Popen is."""
    env = {**_env(), "TMPDIR": str(tmp)}
    launcher = [sys.executable, "-m", "privformers.cli", "launch", "--program", "stall", "--args",
                '{"seconds": 120}', "--timeout", "300"]
    if parent_wrapper:
        cmd = [sys.executable, "-c", f"import subprocess, time; subprocess.Popen({launcher!r}); time.sleep(300)"]
    else:
        cmd = launcher
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def connected() -> bool:
        logs = list(tmp.glob("privformers-*/*.err"))
        return len(logs) == 3 and all("connected to" in p.read_text(errors="replace") for p in logs)

    wait_until(connected, 90, "the three parties did not connect")
    assert len(processes_with(str(tmp))) == 3   # the parties: their --cert paths name the folder
    return proc


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL", "parent"])
def test_no_party_or_folder_outlives_the_launcher(tmp_path: Path, sig: str) -> None:
    proc = start_stalled_session(tmp_path, parent_wrapper=sig == "parent")
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 2 and any(n.startswith("privformers-tls-") for n in folders), folders
    try:
        proc.send_signal(signal.SIGKILL if sig == "parent" else getattr(signal, sig))
        code = proc.wait(30)
        wait_until(lambda: not processes_with(str(tmp_path)), 15, "party processes still run")
        wait_until(lambda: not any(tmp_path.iterdir()), 10, f"folders left: {list(tmp_path.iterdir())}")
    finally:
        for pid in processes_with(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
    err = proc.stderr.read().decode()
    if sig in ("SIGTERM", "SIGINT", "SIGHUP"):   # the launcher itself stopped them, and says so
        assert code == 128 + getattr(signal, sig), err
        assert f"stopped by {sig}: parties ended" in err
    elif sig == "SIGKILL":                       # the watchdog did
        assert code == -signal.SIGKILL
        assert "the launcher ended without cleaning up: ended 3 party process(es) and removed 2 folder(s)" in err
    else:                                        # the launcher, once re-parented
        wait_until(lambda: not processes_with("privformers.cli launch --program stall --args"), 10,
                   "the orphaned launcher still runs")


def test_nohup_lets_the_launcher_outlive_its_parent(tmp_path: Path) -> None:
    """With hang-ups ignored (nohup), a launcher whose parent ends goes on: the user asked for it."""
    from privformers.mpc.launch import parent_to_watch

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        assert parent_to_watch() is None
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert parent_to_watch() == os.getppid()


def test_the_watchdog_does_nothing_once_told_done(tmp_path: Path) -> None:
    """``done`` before end of input: the named group and folder are left alone (the launcher cleaned up)."""
    from privformers.mpc.reaper import watch

    keep = tmp_path / "keep"
    keep.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert watch(iter([f"group {sleeper.pid}\n", f"path {keep}\n", "done\n"])) is True
        assert keep.is_dir() and sleeper.poll() is None
        assert watch(iter([f"group {sleeper.pid}\n", f"path {keep}\n"])) is False   # input ended: clean
        assert sleeper.wait(5) == -signal.SIGKILL and not keep.exists()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
