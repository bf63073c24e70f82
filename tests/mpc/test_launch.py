"""Three party processes over TCP: same result as in-process threads; a killed party ends the rest."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from privformers.cli.mpc import register
from privformers.mpc.launch import (
    GRACE_S,
    LaunchError,
    ServerGemm,
    _env,
    follow_lines,
    free_ports,
    launch_local,
    local_gemm_threads,
    party_command,
    start_parties,
    wait_parties,
)
from privformers.mpc.party import ROLES
from privformers.mpc.process import run_party
from privformers.mpc.programs import linear_demo, linear_demo_inputs
from privformers.mpc.session import run_local


def test_linear_demo_over_processes_matches_run_local():
    reports = launch_local("linear-demo", {"seed": 1}, timeout=60)
    remote = torch.tensor(reports["client"]["result"], dtype=torch.float64)
    local = run_local(linear_demo({"seed": 1})).results["client"].reshape(-1)
    x, w, b = linear_demo_inputs(1)
    assert (remote - local).abs().max() <= 2 ** -15
    assert (remote - (x @ w + b).reshape(-1)).abs().max() < 1e-3
    assert reports["server"]["result"] is None and reports["dealer"]["result"] is None
    assert all(r["transport"] == "tls1.3" for r in reports.values())   # ephemeral certificates by default
    for role in ("client", "server"):
        meter = reports[role]["meter"]
        assert meter["online_bytes"] > 0 and meter["online_rounds"] > 0
    assert reports["client"]["saw"] and all(len(s["first_bytes"]) <= 32 for s in reports["client"]["saw"])


def test_echo_through_run_party_over_tcp_in_threads():
    """The whole party path (connect, handshake, program, report) without process start-up cost."""
    sid, ports = os.urandom(16), free_ports(3)
    addrs = {r: ("127.0.0.1", p) for r, p in zip(ROLES, ports)}
    reports: dict = {}

    def party(role: str) -> None:
        reports[role] = run_party(role, "echo", {"n": 100_000}, sid, addrs, tls=None)

    threads = [threading.Thread(target=party, args=(r,), daemon=True) for r in ROLES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for role in ROLES:
        assert reports[role]["result"] == {peer: True for peer in ROLES if peer != role}
        assert reports[role]["transport"] == "tcp (insecure)"
        assert reports[role]["meter"]["setup_bytes"] > 0


def _wait_for(paths: list[Path], text: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if all(text in p.read_text(errors="replace") for p in paths):
            return
        time.sleep(0.05)
    pytest.fail(f"parties did not print {text!r} within {seconds} s")


def test_killed_party_ends_the_others_with_a_clear_error(tmp_path):
    procs = start_parties("stall", {"seconds": 120}, tmp_path, timeout=60, connect_timeout=30, tls=None)
    try:
        _wait_for([p.stderr for p in procs.values()], "connected to", 40)
        time.sleep(0.3)
        procs["server"].proc.kill()
        t0 = time.monotonic()
        with pytest.raises(LaunchError) as err:
            wait_parties(procs, timeout=30)
        assert time.monotonic() - t0 < GRACE_S + 5
    finally:
        for p in procs.values():
            if p.proc.poll() is None:
                p.proc.kill()
    for role in ("client", "dealer"):
        assert procs[role].proc.returncode == 1, procs[role].stderr.read_text()
        last = procs[role].last_error()
        # either it saw the server go itself, or the other survivor told it so first (an abort frame)
        assert last.startswith(f"{role} failed: ") and "server at 127.0.0.1:" in last and "disconnected" in last
    assert "server" in str(err.value) and "client" in str(err.value)


def test_headline_names_the_party_that_failed_first_hand(tmp_path):
    """A party killed by a signal, else one whose error is not about a lost peer, heads the error."""
    from privformers.mpc.launch import PartyProcess, _failure

    def party(role: str, last: str) -> PartyProcess:
        (tmp_path / f"{role}.err").write_text(f"[{role}] connected\n{last}\n")
        return PartyProcess(role, None, tmp_path / f"{role}.out", tmp_path / f"{role}.err")

    procs = {"client": party("client", "client failed: server at 127.0.0.1:1 closed the link"),
             "server": party("server", "server failed: no weights in '/m'"),
             "dealer": party("dealer", "dealer failed: server at 127.0.0.1:1 disconnected while we were sending")}
    assert _failure(procs, ["client", "server", "dealer"], {"client": 1, "server": 1, "dealer": 1}) == \
        "server failed (exit 1)"
    assert _failure(procs, ["client", "dealer"], {"client": 1, "server": None, "dealer": -9}) == \
        "dealer failed (killed by SIGKILL: out of memory?)"
    assert _failure(procs, ["client"], {"client": -15, "server": None, "dealer": None}) == \
        "client failed (killed by SIGTERM)"


def test_the_local_server_gets_the_second_core_for_its_weight_products():
    """Only the server's command line asks for more than one GEMM thread (the client waits on those
    products); its idle OpenMP workers sleep instead of spinning on a core another party needs."""
    addrs = {r: f"127.0.0.1:{p}" for r, p in zip(ROLES, free_ports(3))}
    threads = {}
    for role in ROLES:
        cmd = party_command(role, "echo", {}, "00" * 16, addrs, 16, 10.0, 5.0, None)
        threads[role] = int(cmd[cmd.index("--gemm-threads") + 1])
    assert threads == {"client": 1, "server": min(2, os.cpu_count() or 1), "dealer": 1}
    assert local_gemm_threads("server") == threads["server"]
    assert _env()["OMP_WAIT_POLICY"] == "PASSIVE"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    base = ["party", "--role", "server", "--program", "echo", "--session", "00" * 16,
            *[x for r in ROLES for x in (f"--{r}", addrs[r])]]
    assert parser.parse_args([*base, "--gemm-threads", "3"]).gemm_threads == 3
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--gemm-threads", "0"])


def test_only_the_server_is_given_the_gemm_device_and_threads_asked_for(capsys):
    """bench forward's --server-gemm-device/--server-gemm-threads reach the server's command line alone;
    without CUDA the request is refused up front with the reason (exit 2), not run on the CPU instead."""
    addrs = {r: f"127.0.0.1:{p}" for r, p in zip(ROLES, free_ports(3))}
    cmds = {role: party_command(role, "echo", {}, "00" * 16, addrs, 16, 10.0, 5.0, None, ServerGemm(4, "cuda"))
            for role in ROLES}
    assert cmds["server"][cmds["server"].index("--gemm-threads") + 1] == "4"
    assert cmds["server"][cmds["server"].index("--gemm-device") + 1] == "cuda"
    for role in ("client", "dealer"):
        assert "--gemm-device" not in cmds[role] and cmds[role][cmds[role].index("--gemm-threads") + 1] == "1"
    assert "--gemm-device" not in party_command("server", "echo", {}, "00" * 16, addrs, 16, 10.0, 5.0, None)
    if torch.cuda.is_available():
        return
    from privformers.cli import main

    assert main(["bench", "forward", "--random-weights", "--seq-len", "4", "--server-gemm-device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_party_processes_end_without_the_interpreter_teardown(tmp_path, monkeypatch):
    """A party exits straight after its report (tearing down torch and transformers costs about 1 s of
    CPU, which the dealer, finishing first, took from the others' online pass): exit handlers do not run,
    yet the report and the exit status arrive whole."""
    hooks, marks = tmp_path / "hooks", tmp_path / "marks"
    hooks.mkdir()
    marks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import atexit, os\n"
        f"atexit.register(lambda: open(os.path.join({str(marks)!r}, str(os.getpid())), 'w').close())\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p))
    control = subprocess.run([sys.executable, "-c", "pass"], env=_env(), check=True)
    assert control.returncode == 0 and len(list(marks.iterdir())) == 1   # the hook works in a plain process
    (tmp_path / "run").mkdir()
    procs = start_parties("echo", {"n": 1000}, tmp_path / "run", timeout=30, connect_timeout=20, tls=None)
    reports = wait_parties(procs, timeout=60)
    assert {role: procs[role].proc.returncode for role in ROLES} == {role: 0 for role in ROLES}
    assert all(reports[role]["result"] == {p: True for p in ROLES if p != role} for role in ROLES)
    assert len(list(marks.iterdir())) == 1   # no party process ran its exit handlers


def test_follow_lines_copies_what_came_just_before_stop(tmp_path, capsys):
    """The client's last progress lines come right before it exits: the follower reads once more
    after being stopped, and still copies only complete lines with the prefix."""
    log = tmp_path / "client.err"
    log.write_text("[client] token 1/2\nnoise\n[client] token 2/2\n[client] partial")
    stop = threading.Event()
    stop.set()
    follow_lines(log, stop, "[client]")
    assert capsys.readouterr().err == "[client] token 1/2\n[client] token 2/2\n"
