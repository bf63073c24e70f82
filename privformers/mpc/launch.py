"""Running the three parties as separate local processes over TCP, and collecting their reports.

Each party is ``privformers party ... --json`` in its own process; its stdout is one JSON line,
its stderr its log. If one fails or exits, the others are given a moment to notice, then killed,
and the error names every party's last message. Every wait has a deadline.

Links are TLS 1.3 with mutual authentication: the launcher makes a fresh CA and one certificate
per party in a private temporary folder (0700, the CA key never written), deleted afterwards.
Plain TCP only with ``insecure=True`` (``--insecure-transport``), which prints a warning.

Each secret goes to its owner's process only. A program's arguments come in three parts: public
ones (every party's command line), the client's (its inputs: prompt ids, sentences) and the
server's (where its weights are). The private parts travel as JSON on the owner's stdin, never on
a command line (``/proc/PID/cmdline`` is readable by every local user) nor in the environment.

Ending: the launcher ends its parties and deletes its folders when a party fails, at the deadline,
on SIGINT, SIGTERM or SIGHUP, and when its own parent process ends (checked while it waits). A
launcher killed outright (SIGKILL) runs no code; a small watchdog process (``reaper.py``) then does
the same cleaning. Each party runs in a session of its own, so a terminal's Ctrl-C reaches only
the launcher, which stops the parties itself.
"""

from __future__ import annotations

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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import privformers
from privformers.mpc.party import CLIENT, ROLES, SERVER
from privformers.mpc.transport.certs import PartyFiles, ephemeral_certs
from privformers.mpc.transport.options import warn_insecure

GRACE_S = 10.0  # for the others to report their own errors (exiting torch can take seconds under load)


class LaunchError(RuntimeError):
    """A party failed, or the session ran out of time."""


class LauncherStopped(KeyboardInterrupt):
    """The launcher was told to stop (a signal) or lost its parent process; its parties are ended and
    its folders deleted by the time this reaches the caller. ``exit_code``: 128 + the signal's number."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


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


def server_gemm(threads: int | None, device: str) -> ServerGemm:
    """A checked ServerGemm (ValueError with the reason: threads below 1, a device that is not there)."""
    from privformers.mpc.ringmath import gemm_device

    if threads is not None and threads < 1:
        raise ValueError("--server-gemm-threads must be at least 1")
    try:
        gemm_device(device)
    except ValueError as exc:
        raise ValueError(f"--server-gemm-device: {exc}") from exc
    return ServerGemm(threads, device)


def party_command(role: str, program: str, args: dict, session: str, addrs: dict[str, str], frac_bits: int,
                  timeout: float, connect_timeout: float, tls: PartyFiles | None,
                  server_gemm: ServerGemm = LOCAL_DEFAULT, private_args: bool = False) -> list[str]:
    """The command line that runs one party: only public arguments (every local user can read it).
    private_args: the party also reads its own arguments, as JSON, from its stdin."""
    threads = server_gemm.threads if role == SERVER and server_gemm.threads else local_gemm_threads(role)
    cmd = [sys.executable, "-m", "privformers.cli.mpc", "party", "--role", role, "--program", program,
           "--session", session, "--args", json.dumps(args), "--frac-bits", str(frac_bits),
           "--timeout", str(timeout), "--connect-timeout", str(connect_timeout), "--json", *tls_flags(tls),
           "--gemm-threads", str(threads)]
    if private_args:
        cmd.append("--args-stdin")
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


def private_parts(args: dict, client_args: dict | None, server_args: dict | None) -> dict[str, dict]:
    """Each role's own arguments (a secret of that role only), checked not to repeat a public one."""
    private = {CLIENT: dict(client_args or {}), SERVER: dict(server_args or {})}
    for role, mine in private.items():
        both = sorted(set(mine) & set(args))
        if both:
            raise ValueError(f"{', '.join(both)}: given both as public arguments and as the {role}'s own")
    return {role: mine for role, mine in private.items() if mine}


def _hand_over(proc: subprocess.Popen, data: bytes) -> None:
    """Write a party's own arguments to its stdin, then close it (in a thread: a party that never reads
    them must not stop the launcher from noticing that it failed)."""

    def write() -> None:
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass   # the party ended first; wait_parties reports why

    threading.Thread(target=write, name=f"stdin-{proc.pid}", daemon=True).start()


def start_parties(program: str, args: dict, workdir: Path, frac_bits: int = 16, timeout: float = 60.0,
                  connect_timeout: float = 30.0, *, tls: dict[str, PartyFiles] | None,
                  client_args: dict | None = None, server_args: dict | None = None,
                  server_gemm: ServerGemm = LOCAL_DEFAULT,
                  on_start: Callable[[int], None] | None = None) -> dict[str, PartyProcess]:
    """Start client, server and dealer on fresh localhost ports with a fresh session id, each in a
    session (and process group) of its own.

    tls: each role's certificate files (see ``ephemeral_certs``); None for plain TCP. args: public
    arguments, on every command line. client_args: the client's own (its secret inputs), server_args:
    the server's own (where its weights are); each goes to that process alone, on its stdin.
    on_start(pid): called as each process starts (the watchdog's ``group``); if starting one fails,
    those already started are killed."""
    private = private_parts(args, client_args, server_args)
    ports = free_ports(len(ROLES))
    addrs = {r: f"127.0.0.1:{p}" for r, p in zip(ROLES, ports)}
    session = secrets.token_hex(16)
    procs: dict[str, PartyProcess] = {}
    env = _env()
    try:
        for role in ROLES:
            out, err = workdir / f"{role}.out", workdir / f"{role}.err"
            with out.open("wb") as fo, err.open("wb") as fe:
                cmd = party_command(role, program, args, session, addrs, frac_bits, timeout, connect_timeout,
                                    None if tls is None else tls[role], server_gemm, private_args=role in private)
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if role in private else subprocess.DEVNULL,
                                        stdout=fo, stderr=fe, env=env, start_new_session=True)
            procs[role] = PartyProcess(role, proc, out, err)
            if on_start is not None:
                on_start(proc.pid)
    except BaseException:
        for p in procs.values():
            p.proc.kill()
            p.proc.wait()
        raise
    for role, mine in private.items():   # all started first: each reads its stdin as it starts up
        _hand_over(procs[role].proc, json.dumps(mine).encode())
    return procs


def wait_parties(procs: dict[str, PartyProcess], timeout: float, parent: int | None = None,
                 stop: StopRequest | None = None) -> dict[str, dict]:
    """Wait for all parties; their JSON reports, or LaunchError (after killing the rest).

    parent: the pid of this process's parent; once it has ended (we are re-parented), stop with
    ``LauncherStopped``, as when ``stop`` notes a signal. Whatever ends the wait, no party is left
    running."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if stop is not None:
                stop.check()
            if parent is not None and os.getppid() != parent:
                raise LauncherStopped("the launcher's parent process ended: parties stopped", 128 + signal.SIGHUP)
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


class Reaper:
    """The launcher's side of the watchdog process (``reaper.py``): name what it must clean up should the
    launcher die; ``done`` once the launcher has cleaned up itself."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "privformers.mpc.reaper"], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, env=_env(), start_new_session=True)

    def _say(self, line: str) -> None:
        self._proc.stdin.write(f"{line}\n".encode())
        self._proc.stdin.flush()

    def group(self, pgid: int) -> None:
        self._say(f"group {pgid}")

    def path(self, folder: str | Path) -> None:
        self._say(f"path {folder}")

    def done(self) -> None:
        try:
            self._say("done")
            self._proc.stdin.close()
            self._proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()


@contextmanager
def reaper() -> Iterator[Reaper]:
    """A watchdog for this launch, told ``done`` on the way out (after the folders are gone)."""
    watchdog = Reaper()
    try:
        yield watchdog
    finally:
        watchdog.done()


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopRequest:
    """Set by a signal handler, acted on by ``wait_parties``: a handler that raised at once could
    interrupt the cleanup itself (a second Ctrl-C in the middle of killing the parties)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def check(self) -> None:
        if self.signum is not None:
            raise LauncherStopped(f"stopped by {signal.Signals(self.signum).name}: parties ended", 128 + self.signum)


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While launching, SIGINT, SIGTERM and SIGHUP only note that the launcher must stop; the wait for
    the parties (which looks every 20 ms) then ends them and the usual cleanup runs. A signal that
    comes while cleaning up waits for the end of it. The previous handlers come back afterwards; one
    whose handler was SIG_IGN (``nohup``) stays ignored. Only the main thread can take signals:
    elsewhere nothing is installed (the watchdog still covers a killed launcher)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def note(signum: int, _frame: object) -> None:
        if request.signum is None:
            request.signum = signum

    previous = {}
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, note)
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    request.check()   # a signal that came during the cleanup still stops the caller


def parent_to_watch() -> int | None:
    """Our parent's pid, to stop when it ends; None when hang-ups are ignored (``nohup``: the user asked
    this launcher to outlive its parent) or when it is already init (nothing to outlive)."""
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return None
    ppid = os.getppid()
    return None if ppid == 1 else ppid


@contextmanager
def transport_files(insecure: bool) -> Iterator[dict[str, PartyFiles] | None]:
    """Fresh ephemeral certificates for one local session, or None (with a warning) for plain TCP."""
    if insecure:
        warn_insecure()
        yield None
        return
    with ephemeral_certs() as files:
        yield files


def follow_lines(path: Path, stop: threading.Event, prefix: str | None,
                 on_line: Callable[[str], bool] | None = None, every: float = 0.2) -> None:
    """Copy the complete lines of a growing file that start with prefix to our stderr until stop is set,
    reading once more after it is set: a process's last lines come just before it ends. on_line(line)
    sees every complete line first; a line it takes (returns True) is not copied."""
    pos = 0
    while True:
        last = stop.wait(every)
        if path.exists():
            text = path.read_text(errors="replace")
            for line in text[pos:].splitlines(keepends=True):
                if line.endswith("\n"):
                    taken = on_line is not None and on_line(line.rstrip("\n"))
                    if not taken and prefix is not None and line.startswith(prefix):
                        sys.stderr.write(line)
                    pos += len(line)
        if last:
            return


def launch_local(program: str, args: dict | None = None, timeout: float = 60.0, frac_bits: int = 16,
                 insecure: bool = False, client_args: dict | None = None, follow: str | None = None,
                 connect_timeout: float | None = None, server_gemm: ServerGemm = LOCAL_DEFAULT,
                 server_args: dict | None = None, on_line: Callable[[str], bool] | None = None) -> dict:
    """Run a registered program with three local processes; each role's JSON report.

    args: public arguments (every party's command line). client_args: the client's own (its secret
    inputs), server_args: the server's own (its model folder); each reaches that process alone, on its
    stdin, and is merged over ``args`` there. follow: copy the client's stderr lines that start with
    this prefix (its progress) to ours; on_line(line) sees each of its stderr lines first (within 50 ms)
    and takes those it returns True for (a streamer's tokens). server_gemm: the server's threads and device for its
    plaintext-weight products. Raises LaunchError when a party fails or time runs out, and
    ``LauncherStopped`` on SIGTERM/SIGHUP or when our parent ends; either way no party is left
    running and the session's folders (keys, logs) are deleted."""
    connect = min(30.0, timeout) if connect_timeout is None else connect_timeout
    private_parts(args or {}, client_args, server_args)   # a clash is an error before anything starts
    if follow is not None:
        print(f"[launch] starting the client, server and dealer as local processes "
              f"({'plain TCP' if insecure else 'TLS 1.3, ephemeral certificates'}); each loads torch and the model "
              "first", file=sys.stderr, flush=True)
    parent = parent_to_watch()
    with ExitStack() as stack:
        stop_request = stack.enter_context(stop_on_signals())
        watchdog = stack.enter_context(reaper())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="privformers-"))
        watchdog.path(tmp)
        tls = stack.enter_context(transport_files(insecure))
        if tls is not None:
            watchdog.path(tls[CLIENT].ca.parent)
        procs = start_parties(program, args or {}, Path(tmp), frac_bits, timeout, connect, tls=tls,
                              client_args=client_args, server_args=server_args, server_gemm=server_gemm,
                              on_start=watchdog.group)
        stop = threading.Event()
        follower = None
        if follow is not None or on_line is not None:
            every = 0.2 if on_line is None else 0.05
            follower = threading.Thread(target=follow_lines, args=(procs[CLIENT].stderr, stop, follow, on_line, every),
                                        daemon=True)
            follower.start()
        try:
            return wait_parties(procs, timeout, parent, stop_request)
        finally:
            stop.set()
            if follower is not None:
                follower.join()
