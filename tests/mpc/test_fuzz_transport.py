"""Fuzzing the listeners (issue 29): random and truncated frames, huge announced lengths and failed
handshakes from a hostile but fair peer on localhost (it holds valid client and server certificates;
see ``fuzz_peer.py``), against (a) the ports of party processes in their connect phase, (b) a running
``serve`` and (c) a ``dealer`` service, while real sessions run. Each target is its own process: it
must not crash, the real sessions must complete with the right result, and its resident memory
(VmRSS) must come back within 100 MB of where it was before the fuzzing.

The seed is printed; PRIVFORMERS_FUZZ_SEED=N replays a run's knocks (not their interleaving across
threads). The default variant knocks a few dozen times per port; the ``slow`` one ten times as often.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from privformers.generation.api import remote_generate
from privformers.models.plain import plain_greedy
from privformers.mpc.launch import _env, free_ports, party_command, tls_flags
from privformers.mpc.programs import linear_demo_inputs
from privformers.mpc.transport.certs import make_certs
from privformers.mpc.transport.tls import TlsConfig
from tests.generation.helpers import PROMPT, SMALL_SPEC, plain_model, save_model
from tests.mpc.fuzz_peer import Fuzzer
from tests.mpc.test_stray_connections import reach
from tests.mpc.tls_helpers import make_pki

SEED = int(os.environ.get("PRIVFORMERS_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
RSS_SLACK = 100 * 10**6
WORKERS_PER_PORT = 2
COUNTS = [pytest.param(40, id="short"), pytest.param(400, id="long", marks=pytest.mark.slow)]


def vm_rss(pid: int) -> int:
    """A process's resident memory in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def fuzz(fuzzers: list[Fuzzer], count: int, seconds: float) -> threading.Thread:
    """Start count knocks on each fuzzer's port (WORKERS_PER_PORT threads each); the returned thread ends with them."""
    until = time.monotonic() + seconds
    workers = [threading.Thread(target=f.run, args=(SEED + 1000 * i + j, count // WORKERS_PER_PORT, until),
                                daemon=True)
               for i, f in enumerate(fuzzers) for j in range(WORKERS_PER_PORT)]

    def all_of_them() -> None:
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    t = threading.Thread(target=all_of_them, daemon=True)
    t.start()
    return t


def report(fuzzers: list[Fuzzer]) -> None:
    total = sum((f.counts for f in fuzzers), Counter())
    print(f"fuzz seed {SEED} (PRIVFORMERS_FUZZ_SEED={SEED} replays it); {sum(total.values())} knocks:")
    for what, n in sorted(total.items()):
        print(f"  {n:4d}  {what}")


class Processes:
    """Child processes with their stderr in files; all killed at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.procs = folder, {}

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        out, err = (open(self.folder / f"{name}.{x}", "w") for x in ("out", "err"))
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=err, env=_env())
        return self.procs[name]

    def err(self, name: str) -> str:
        return (self.folder / f"{name}.err").read_text()

    def out(self, name: str) -> str:
        return (self.folder / f"{name}.out").read_text()

    def alive(self, name: str) -> None:
        proc = self.procs[name]
        assert proc.poll() is None, f"{name} ended ({proc.returncode}): {self.err(name)[-3000:]}"

    def kill(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()


def check_rss(names: dict[str, int], procs: Processes, start: dict[str, int], settle: float) -> None:
    """Each process's RSS back within RSS_SLACK of its start (waiting up to settle s for dropped connections)."""
    end = time.monotonic() + settle
    while True:
        now = {name: vm_rss(pid) for name, pid in names.items()}
        over = {n: now[n] - start[n] for n in names if now[n] - start[n] > RSS_SLACK}
        if not over or time.monotonic() > end:
            break
        time.sleep(0.5)
    print("RSS MB, start -> after: " + ", ".join(f"{n} {start[n] / 1e6:.0f} -> {now[n] / 1e6:.0f}" for n in names))
    assert not over, f"resident memory above its start by more than 100 MB: {over}"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    files = make_certs(tmp_path_factory.mktemp("pki"), days=1)
    return {"files": files, "pki": {r: TlsConfig.from_files(f) for r, f in files.items()},
            "other": make_pki(tmp_path_factory.mktemp("other-pki"))}


@pytest.mark.parametrize("count", COUNTS)
def test_fuzzing_the_ports_of_parties_in_their_connect_phase(certs, tmp_path, count):
    """(a) Dealer and server party processes listen while the fuzzer knocks on both ports; then the
    client comes, and the three finish their session with the right result."""
    sid, ports = os.urandom(16).hex(), free_ports(3)
    addrs = {r: f"127.0.0.1:{p}" for r, p in zip(("client", "server", "dealer"), ports)}
    procs = Processes(tmp_path)
    fuzzers: list[Fuzzer] = []
    try:
        for role in ("dealer", "server"):
            procs.start(role, party_command(role, "linear-demo", {"seed": 2}, sid, addrs, 16, 60, 180,
                                            certs["files"][role]))
        for port in (ports[2], ports[1]):
            reach(("127.0.0.1", port), 120).close()
        start = {r: vm_rss(procs.procs[r].pid) for r in ("dealer", "server")}
        fuzzers = [Fuzzer(("127.0.0.1", ports[2]), "dealer", certs["pki"], certs["other"], after_handshake=False),
                   Fuzzer(("127.0.0.1", ports[1]), "server", certs["pki"], certs["other"], after_handshake=False)]
        fuzz(fuzzers, count, 20.0 * count / 40).join()
        for f in fuzzers:
            f.close()
        report(fuzzers)
        for role in ("dealer", "server"):
            procs.alive(role)
        check_rss({r: procs.procs[r].pid for r in start}, procs, start, settle=5.0)
        procs.start("client", party_command("client", "linear-demo", {"seed": 2}, sid, addrs, 16, 60, 60,
                                            certs["files"]["client"]))
        for role in ("client", "server", "dealer"):
            assert procs.procs[role].wait(120) == 0, f"{role}: {procs.err(role)[-3000:]}"
    finally:
        for f in fuzzers:
            f.close()
        procs.kill()
    x, w, b = linear_demo_inputs(2)
    y = torch.tensor(json.loads(procs.out("client"))["result"], dtype=torch.float64)
    assert (y - (x @ w + b).reshape(-1)).abs().max() < 1e-3
    for role in ("dealer", "server"):
        assert f"[{role}] dropped a connection" in procs.err(role)
        assert "Traceback" not in procs.err(role)


@pytest.mark.parametrize("count", COUNTS)
def test_fuzzing_serve_and_the_dealer_while_clients_are_served(certs, tmp_path, count):
    """(b), (c) A ``serve`` and a ``dealer`` service, each its own process; the fuzzer knocks on both
    (also as an authenticated client or server sending junk frames) while real clients are served."""
    folder = save_model(tmp_path / "model", SMALL_SPEC)
    dport, sport = free_ports(2)
    procs = Processes(tmp_path)
    fuzzers: list[Fuzzer] = []
    plain = plain_model(SMALL_SPEC)
    prompts = [PROMPT, [9, 3, 77, 1, 50], [1, 2, 3]]

    def generate(prompt: list[int]) -> None:
        out = remote_generate(("127.0.0.1", sport), ("127.0.0.1", dport), certs["pki"]["client"], prompt, 2,
                              io_timeout=60, connect_timeout=20)
        assert out["tokens"] == plain_greedy(plain, prompt, 2)[0]

    try:
        procs.start("dealer", [sys.executable, "-m", "privformers.cli.mpc", "dealer", "--listen",
                               f"127.0.0.1:{dport}", "--timeout", "60", "--pair-timeout", "10",
                               *tls_flags(certs["files"]["dealer"])])
        procs.start("serve", [sys.executable, "-m", "privformers.cli", "serve", "--model", str(folder),
                              "--listen", f"127.0.0.1:{sport}", "--dealer", f"127.0.0.1:{dport}", "--timeout", "60",
                              *tls_flags(certs["files"]["server"])])
        for port in (dport, sport):
            reach(("127.0.0.1", port), 120).close()
        generate(PROMPT)                                  # warm: the first session's allocations are not the fuzz's
        pids = {n: procs.procs[n].pid for n in ("dealer", "serve")}
        start = {n: vm_rss(pid) for n, pid in pids.items()}
        fuzzers = [Fuzzer(("127.0.0.1", sport), "server", certs["pki"], certs["other"], after_handshake=True),
                   Fuzzer(("127.0.0.1", dport), "dealer", certs["pki"], certs["other"], after_handshake=True)]
        running = fuzz(fuzzers, count, 30.0 * count / 40)
        served = 0
        while running.is_alive() or served == 0:
            generate(prompts[served % len(prompts)])
            served += 1
        running.join()
        for f in fuzzers:
            f.close()
        report(fuzzers)
        print(f"{served} real sessions completed during the fuzzing")
        for name in pids:
            procs.alive(name)
        check_rss(pids, procs, start, settle=15.0)
        generate(prompts[1])
    finally:
        for f in fuzzers:
            f.close()
        procs.kill()
    for name in ("dealer", "serve"):
        assert "Traceback" not in procs.err(name), procs.err(name)[-3000:]
