"""Running the three parties as separate local processes over TCP, and collecting their reports.

Each party is ``privformers party ... --json`` in its own process; its stdout is one JSON line,
its stderr its log. If one fails or exits, the others are given a moment to notice, then killed,
and the error names every party's last message. Every wait has a deadline.

Links are TLS 1.3 with mutual authentication: the launcher makes a fresh CA and one certificate
per party in a private temporary folder (0700, the CA key never written), deleted afterwards.
Plain TCP only with ``insecure=True`` (``--insecure-transport``), which prints a warning.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import privformers
from privformers.mpc.party import CLIENT, ROLES, SERVER
from privformers.mpc.transport.certs import PartyFiles, ephemeral_certs
from privformers.mpc.transport.options import warn_insecure

GRACE_S = 10.0  # for the others to report their own errors (exiting torch can take seconds under load)


class LaunchError(RuntimeError):
    """A party failed, or the session ran out of time."""


@dataclass
class PartyProcess:
    """A started party process and the files its output goes to."""

    role: str
    proc: subprocess.Popen
    stdout: Path
    stderr: Path

    def last_error(self) -> str:
        lines = [ln for ln in self.stderr.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else "(no message)"


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """n ports free right now on host (the OS picks them)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tls_flags(files: PartyFiles | None) -> list[str]:
    """--cert/--key/--ca for a party, or --insecure-transport."""
    if files is None:
        return ["--insecure-transport"]
    return ["--cert", str(files.cert), "--key", str(files.key), "--ca", str(files.ca)]


def local_gemm_threads(role: str) -> int:
    """Threads for a local party's plaintext-weight products: two for the server where there are two
    cores (the client is blocked on their result while they run), one otherwise."""
    return min(2, os.cpu_count() or 1) if role == SERVER else 1


@dataclass(frozen=True)
class ServerGemm:
    """Where a local server runs its plaintext-weight products: threads (None: ``local_gemm_threads``)
    and device (cpu, cuda, cuda:N)."""

    threads: int | None = None
    device: str = "cpu"


LOCAL_DEFAULT = ServerGemm()   # the launcher's default: CPU, ``local_gemm_threads``


def add_server_gemm_options(p: argparse.ArgumentParser) -> None:
    """--server-gemm-device and --server-gemm-threads for commands that launch local parties."""
    p.add_argument("--server-gemm-device", default="cpu", metavar="DEVICE",
                   help="where the server's products with its plaintext weights run: cpu (default), cuda or "
                        "cuda:N; the other parties stay on the CPU. A device that is not there is an error")
    p.add_argument("--server-gemm-threads", type=int, default=None, metavar="N",
                   help="the server's threads for those products on the CPU (default: 2 where there are 2 cores)")


def server_gemm_from(a: argparse.Namespace) -> ServerGemm:
    """The options of ``add_server_gemm_options``, checked (ValueError with the reason)."""
    from privformers.mpc.ringmath import gemm_device

    if a.server_gemm_threads is not None and a.server_gemm_threads < 1:
        raise ValueError("--server-gemm-threads must be at least 1")
    try:
        gemm_device(a.server_gemm_device)
    except ValueError as exc:
        raise ValueError(f"--server-gemm-device: {exc}") from exc
    return ServerGemm(a.server_gemm_threads, a.server_gemm_device)


def party_command(role: str, program: str, args: dict, session: str, addrs: dict[str, str], frac_bits: int,
                  timeout: float, connect_timeout: float, tls: PartyFiles | None,
                  server_gemm: ServerGemm = LOCAL_DEFAULT) -> list[str]:
    """The command line that runs one party."""
    threads = server_gemm.threads if role == SERVER and server_gemm.threads else local_gemm_threads(role)
    cmd = [sys.executable, "-m", "privformers.mpc.commands", "party", "--role", role, "--program", program,
           "--session", session, "--args", json.dumps(args), "--frac-bits", str(frac_bits),
           "--timeout", str(timeout), "--connect-timeout", str(connect_timeout), "--json", *tls_flags(tls),
           "--gemm-threads", str(threads)]
    if role == SERVER and server_gemm.device != "cpu":
        cmd += ["--gemm-device", server_gemm.device]
    for r in ROLES:
        cmd += [f"--{r}", addrs[r]]
    return cmd


def _env() -> dict[str, str]:
    """Our environment, with this checkout of privformers importable by the children."""
    env = dict(os.environ)
    root = str(Path(privformers.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    # idle OpenMP workers sleep at once: a spinning one would take the core another party needs
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def start_parties(program: str, args: dict, workdir: Path, frac_bits: int = 16, timeout: float = 60.0,
                  connect_timeout: float = 30.0, *, tls: dict[str, PartyFiles] | None,
                  client_args: dict | None = None, server_gemm: ServerGemm = LOCAL_DEFAULT) -> dict[str, PartyProcess]:
    """Start client, server and dealer on fresh localhost ports with a fresh session id.

    tls: each role's certificate files (see ``ephemeral_certs``); None for plain TCP. client_args:
    arguments only the client process gets (its secret inputs), merged over ``args``."""
    ports = free_ports(len(ROLES))
    addrs = {r: f"127.0.0.1:{p}" for r, p in zip(ROLES, ports)}
    session = secrets.token_hex(16)
    procs: dict[str, PartyProcess] = {}
    env = _env()
    for role in ROLES:
        out, err = workdir / f"{role}.out", workdir / f"{role}.err"
        with out.open("wb") as fo, err.open("wb") as fe:
            role_args = {**args, **client_args} if client_args and role == CLIENT else args
            proc = subprocess.Popen(party_command(role, program, role_args, session, addrs, frac_bits, timeout,
                                                  connect_timeout, None if tls is None else tls[role], server_gemm),
                                    stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=env)
        procs[role] = PartyProcess(role, proc, out, err)
    return procs


def wait_parties(procs: dict[str, PartyProcess], timeout: float) -> dict[str, dict]:
    """Wait for all parties; their JSON reports, or LaunchError (after killing the rest)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            codes = {r: p.proc.poll() for r, p in procs.items()}
            failed = [r for r, c in codes.items() if c not in (None, 0)]
            if failed:
                grace = time.monotonic() + GRACE_S
                while time.monotonic() < grace and any(p.proc.poll() is None for p in procs.values()):
                    time.sleep(0.05)
                codes.update({r: p.proc.poll() for r, p in procs.items()})
                failed = [r for r, c in codes.items() if c not in (None, 0)]
                raise LaunchError(_describe(procs, _failure(procs, failed, codes)))
            if all(c == 0 for c in codes.values()):
                break
            if time.monotonic() > deadline:
                raise LaunchError(_describe(procs, f"session did not finish within {timeout:g} s"))
            time.sleep(0.02)
    finally:
        for p in procs.values():
            if p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait(5)
    reports = {}
    for role, p in procs.items():
        try:
            reports[role] = json.loads(p.stdout.read_text())
        except json.JSONDecodeError as exc:
            raise LaunchError(f"{role} printed no JSON report ({exc})") from None
    return reports


def _exit_state(code: int) -> str:
    """'exit 1', or 'killed by SIGTERM' for a process ended by a signal; SIGKILL, which the kernel's
    out-of-memory killer sends, says so."""
    if code >= 0:
        return f"exit {code}"
    if -code == signal.SIGKILL:
        return "killed by SIGKILL: out of memory?"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


LOST_PEER = ("disconnected", "closed the link", "lost a peer", "sent nothing for")  # consequences of another failure


def _failure(procs: dict[str, PartyProcess], failed: list[str], codes: dict[str, int | None]) -> str:
    """The headline names the party that failed first-hand: one killed by a signal, else one whose
    error is not about losing a peer (the others' errors follow from it), else the first seen."""

    def rank(role: str) -> int:
        if codes[role] < 0:
            return 0
        return 2 if any(s in procs[role].last_error() for s in LOST_PEER) else 1

    first = min(failed, key=rank)
    return f"{first} failed ({_exit_state(codes[first])})"


def _describe(procs: dict[str, PartyProcess], headline: str) -> str:
    lines = [headline + ":"]
    for role, p in procs.items():
        code = p.proc.poll()
        state = "still running (killed)" if code is None else _exit_state(code)
        lines.append(f"  {role}: {state}: {p.last_error()}")
    return "\n".join(lines)


@contextmanager
def transport_files(insecure: bool) -> Iterator[dict[str, PartyFiles] | None]:
    """Fresh ephemeral certificates for one local session, or None (with a warning) for plain TCP."""
    if insecure:
        warn_insecure()
        yield None
        return
    with ephemeral_certs() as files:
        yield files


def follow_lines(path: Path, stop: threading.Event, prefix: str) -> None:
    """Copy the complete lines of a growing file that start with prefix to our stderr until stop is set,
    reading once more after it is set: a process's last lines come just before it ends."""
    pos = 0
    while True:
        last = stop.wait(0.2)
        if path.exists():
            text = path.read_text(errors="replace")
            for line in text[pos:].splitlines(keepends=True):
                if line.endswith("\n"):
                    if line.startswith(prefix):
                        sys.stderr.write(line)
                    pos += len(line)
        if last:
            return


def launch_local(program: str, args: dict | None = None, timeout: float = 60.0, frac_bits: int = 16,
                 insecure: bool = False, client_args: dict | None = None, follow: str | None = None,
                 connect_timeout: float | None = None, server_gemm: ServerGemm = LOCAL_DEFAULT) -> dict:
    """Run a registered program with three local processes; each role's JSON report.

    client_args: arguments only the client gets (its secret inputs), merged over ``args``.
    follow: copy the client's stderr lines that start with this prefix (its progress) to ours.
    server_gemm: the server's threads and device for its plaintext-weight products."""
    connect = min(30.0, timeout) if connect_timeout is None else connect_timeout
    if follow is not None:
        print(f"[launch] starting the client, server and dealer as local processes "
              f"({'plain TCP' if insecure else 'TLS 1.3, ephemeral certificates'}); each loads torch and the model "
              "first", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="privformers-") as tmp, transport_files(insecure) as tls:
        procs = start_parties(program, args or {}, Path(tmp), frac_bits, timeout, connect, tls=tls,
                              client_args=client_args, server_gemm=server_gemm)
        stop = threading.Event()
        follower = None
        if follow is not None:
            follower = threading.Thread(target=follow_lines, args=(procs[CLIENT].stderr, stop, follow), daemon=True)
            follower.start()
        try:
            return wait_parties(procs, timeout)
        finally:
            stop.set()
            if follower is not None:
                follower.join()
