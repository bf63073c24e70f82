#!/usr/bin/env python3
"""Three hosts on one machine: client, server and dealer in their own network namespaces.

Each host has one veth interface into a bridge (namespace ``<prefix>-lan``), so every byte between
the parties crosses real network interfaces. Each interface's egress can be shaped with ``tc``:
``--rate`` (token bucket; 1 Gbit/s by default) and ``--delay-ms`` one-way delay (netem; split
between the host's egress and the bridge port's egress). Where the kernel has no netem,
``--userspace-delay`` puts the whole one-way delay in ``userspace_netem.py``'s switch instead of
the bridge (the measured TCP round trip then includes the switch's own overhead). The dealer
runs ``privformers dealer``, the server ``privformers serve`` with the built-in model (or
``--model``), and the client runs ``privformers generate --server --dealer`` over TLS with
certificates from ``privformers certs``.

Prints one JSON object: the client's summary, the per-token cost of the decode steps, the meter's
LAN estimate (network time only: 1 Gbit/s, 1 ms RTT) and what shaping was really applied.
Needs root and ``ip``/``tc`` (iproute2). Everything it creates is removed at the end.

    sudo python scripts/netns_three_hosts.py --tokens 8 --rate 1gbit --delay-ms 0.5 [--userspace-delay]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from privformers.mpc.meter import LAN  # noqa: E402 - after the repository is on the path

ROLES = ("client", "server", "dealer")
SWITCH = REPO / "scripts" / "userspace_netem.py"
SWITCH_MTU = 65000   # few large frames: the user-space switch forwards 1 Gbit/s with room to spare
PORTS = {"server": 7101, "dealer": 7102}
DEFAULT_PROMPT = "name[The Eagle], eatType[coffee shop], food[French], area[riverside] ="


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, no iproute2, or no kernel support)."""


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def check_available() -> None:
    """Raise NetnsUnavailable with the reason when this machine cannot run the three-host setup."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("needs root (network namespaces and tc)")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"`{tool}` (iproute2) is not installed")
    name = f"pfprobe{os.getpid()}"
    made = sh("ip", "netns", "add", name, check=False)
    if made.returncode != 0:
        raise NetnsUnavailable(f"`ip netns add` failed: {made.stderr.strip()}")
    sh("ip", "netns", "del", name, check=False)


class ThreeHosts:
    """The namespaces, the bridge, the veth pairs and their shaping; removed by ``teardown``."""

    def __init__(self, prefix: str, subnet: str) -> None:
        self.prefix, self.subnet = prefix, subnet
        self.lan = f"{prefix}-lan"
        self.ns = {r: f"{prefix}-{r}" for r in ROLES}
        self.ip = {r: f"{subnet}.{i + 1}" for i, r in enumerate(ROLES)}
        self.shaping: dict = {}
        self.userspace = False
        self.switch: subprocess.Popen | None = None

    def setup(self, userspace_switch: bool = False) -> None:
        """Namespaces and veth pairs; the ports meet in a kernel bridge, or (userspace_switch) in
        ``userspace_netem.py``'s delay switch, which needs offloads off and gains from a large MTU."""
        self.teardown()
        self.userspace = userspace_switch
        sh("ip", "netns", "add", self.lan)
        if not userspace_switch:
            sh("ip", "-n", self.lan, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", self.lan, "link", "set", "br0", "up")
        for role in ROLES:
            ns, host_if, port_if = self.ns[role], f"{self.prefix}{role[0]}0", f"{self.prefix}{role[0]}1"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", port_if)
            sh("ip", "link", "set", host_if, "netns", ns)
            sh("ip", "link", "set", port_if, "netns", self.lan)
            if userspace_switch:
                sh("ip", "-n", ns, "link", "set", host_if, "mtu", str(SWITCH_MTU))
                sh("ip", "-n", self.lan, "link", "set", port_if, "mtu", str(SWITCH_MTU))
                sh("ip", "netns", "exec", ns, sys.executable, str(SWITCH), "--offloads-off", host_if)
                sh("ip", "netns", "exec", self.lan, sys.executable, str(SWITCH), "--offloads-off", port_if)
            else:
                sh("ip", "-n", self.lan, "link", "set", port_if, "master", "br0")
            sh("ip", "-n", self.lan, "link", "set", port_if, "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.ip[role]}/24", "dev", host_if)
            sh("ip", "-n", ns, "link", "set", host_if, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def interfaces(self) -> list[tuple[str, str]]:
        """(namespace, interface) of every egress: each host's uplink and each bridge port."""
        out = []
        for role in ROLES:
            out.append((self.ns[role], f"{self.prefix}{role[0]}0"))
            out.append((self.lan, f"{self.prefix}{role[0]}1"))
        return out

    def shape(self, rate: str | None, delay_ms: float) -> dict:
        """Apply rate and one-way delay (half on each egress of the path); report what was applied."""
        applied = {"rate": None, "one_way_delay_ms": 0.0, "qdisc": None, "note": ""}
        if self.userspace:
            return self._shape_userspace(rate, delay_ms, applied)
        if not rate and not delay_ms:
            return applied
        half = delay_ms / 2
        netem = ["netem", "delay", f"{half}ms"] + (["rate", rate] if rate else []) + ["limit", "10000"]
        probe = sh("ip", "netns", "exec", self.ns["client"], "tc", "qdisc", "replace", "dev",
                   f"{self.prefix}c0", "root", *netem, check=False)
        if probe.returncode == 0:
            for ns, dev in self.interfaces():
                sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", *netem)
            applied.update(rate=rate, one_way_delay_ms=delay_ms, qdisc="netem")
        else:
            applied["note"] = (f"netem is not available ({probe.stderr.strip()}): this kernel cannot add "
                               "delay, so the round-trip time is the veth pairs' own")
            if rate:
                self._rate_limit(rate, applied)
        self.shaping = applied
        return applied

    def _rate_limit(self, rate: str, applied: dict) -> None:
        """A token bucket (tbf) at rate on every egress."""
        for ns, dev in self.interfaces():
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
               "burst", "256kb", "latency", "50ms")
        applied.update(rate=rate, qdisc="tbf")

    def _shape_userspace(self, rate: str | None, delay_ms: float, applied: dict) -> dict:
        """Rate by tbf on every egress; the whole one-way delay in the switch (each frame crosses it once)."""
        if rate:
            self._rate_limit(rate, applied)
        ports = [dev for ns, dev in self.interfaces() if ns == self.lan]
        self.switch = subprocess.Popen(["ip", "netns", "exec", self.lan, sys.executable, str(SWITCH),
                                        "--delay-ms", str(delay_ms), *ports], stdout=subprocess.PIPE, text=True)
        if "switching" not in (self.switch.stdout.readline() or ""):
            raise RuntimeError("the user-space delay switch did not start")
        applied.update(one_way_delay_ms=delay_ms, delay_by="user-space switch (scripts/userspace_netem.py)",
                       mtu=SWITCH_MTU)
        self.shaping = applied
        return applied

    def teardown(self) -> None:
        if self.switch is not None:
            self.switch.terminate()
            self.switch.wait(10)
            self.switch = None
        for ns in (*self.ns.values(), self.lan):
            sh("ip", "netns", "del", ns, check=False)


ECHO = """
import socket, sys
srv = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
c, _ = srv.accept()
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while (m := c.recv(64)):
    c.sendall(m)
"""
PING = """
import socket, statistics, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
ts = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter(); s.sendall(b"x" * 64); n = 0
    while n < 64:
        n += len(s.recv(64 - n))
    ts.append(time.perf_counter() - t0)
print(statistics.median(ts) * 1e6)
"""


def measure_rtt(hosts: ThreeHosts, n: int = 500) -> float:
    """Median TCP round trip (64-byte ping-pong, microseconds) from the client's host to the server's."""
    host, port = hosts.ip["server"], 7199
    echo = subprocess.Popen(["ip", "netns", "exec", hosts.ns["server"], sys.executable, "-c", ECHO, host, str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        echo.stdout.readline()
        out = sh("ip", "netns", "exec", hosts.ns["client"], sys.executable, "-c", PING, host, str(port), str(n))
        return round(float(out.stdout.strip()), 1)
    finally:
        echo.kill()
        echo.wait()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _in(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-m", "privformers.cli", *cmd]


def _tls(certs: Path, role: str) -> list[str]:
    return ["--cert", str(certs / f"{role}.pem"), "--key", str(certs / f"{role}.key"), "--ca", str(certs / "ca.pem")]


def _wait_listening(log: Path, proc: subprocess.Popen, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if "listening on" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"{log.stem} did not start listening within {seconds:g} s")


def lan_estimate(out: dict) -> float:
    """The meter's LAN model (1 Gbit/s, 1 ms RTT) for one decode token: network time only.

    out["per_token"] rows hold the client's rounds and the bytes both computing parties sent;
    each sends about half of them (the protocols are symmetric)."""
    rows = out["per_token"][1:] or out["per_token"]
    rounds = sum(r["rounds"] for r in rows) / len(rows)
    per_party = sum(r["online_bytes"] for r in rows) / len(rows) / 2
    return LAN.estimate(per_party, round(rounds))


def run(args: argparse.Namespace) -> dict:
    check_available()
    hosts = ThreeHosts(args.prefix, args.subnet)
    work = Path(tempfile.mkdtemp(prefix="privformers-netns-"))
    procs: list[subprocess.Popen] = []
    env = _env()
    try:
        hosts.setup(userspace_switch=args.userspace_delay)
        shaping = hosts.shape(args.rate, args.delay_ms)
        shaping["measured_tcp_rtt_us"] = measure_rtt(hosts)
        certs = work / "certs"
        sh(sys.executable, "-m", "privformers.cli", "certs", "--out", str(certs),
           *(x for r in ROLES for x in ("--host", f"{r}={hosts.ip[r]}")))
        dealer_addr = f"{hosts.ip['dealer']}:{PORTS['dealer']}"
        server_addr = f"{hosts.ip['server']}:{PORTS['server']}"
        logs = {r: work / f"{r}.log" for r in ("dealer", "server")}
        with logs["dealer"].open("w") as f:
            procs.append(subprocess.Popen(_in(hosts.ns["dealer"], "dealer", "--listen", dealer_addr,
                                              *_tls(certs, "dealer")), stdout=f, stderr=subprocess.STDOUT, env=env))
        _wait_listening(logs["dealer"], procs[-1], 120)
        model = args.model or str(REPO / "privformers" / "assets" / "builtin-e2e-gpt2")
        with logs["server"].open("w") as f:
            procs.append(subprocess.Popen(_in(hosts.ns["server"], "serve", "--model", model, "--listen", server_addr,
                                              "--dealer", dealer_addr, *_tls(certs, "server")),
                                          stdout=f, stderr=subprocess.STDOUT, env=env))
        _wait_listening(logs["server"], procs[-1], 180)
        prompt = ["--prompt-ids", args.prompt_ids] if args.prompt_ids else ["--prompt", args.prompt]
        t0 = time.perf_counter()
        client = subprocess.run(_in(hosts.ns["client"], "generate", "--model", model, *prompt,
                                    "--max-new-tokens", str(args.tokens), "--server", server_addr,
                                    "--dealer", dealer_addr, *_tls(certs, "client"), "--json",
                                    *(["--check"] if args.check else [])),
                                capture_output=True, text=True, env=env, timeout=args.timeout)
        wall = time.perf_counter() - t0
        if client.returncode not in (0, 3):
            raise RuntimeError(f"client failed ({client.returncode}): {client.stderr[-3000:]}\n"
                               f"server log: {logs['server'].read_text()[-2000:]}\n"
                               f"dealer log: {logs['dealer'].read_text()[-2000:]}")
        out = json.loads(client.stdout)
        decode = out["per_token"][1:] or out["per_token"]
        return {
            "what": "private greedy generation, client/server/dealer in three network namespaces over TLS 1.3",
            "model": model, "tokens": out["tokens"], "text": out["text"],
            "plaintext_match": out.get("plaintext_tokens") == out["tokens"] if args.check else None,
            "shaping": shaping,
            "first_token_seconds": out["per_token"][0]["seconds"],
            "decode_seconds_per_token": sum(r["seconds"] for r in decode) / len(decode),
            "decode_online_bytes_per_token": sum(r["online_bytes"] for r in decode) / len(decode),
            "decode_rounds_per_token": sum(r["rounds"] for r in decode) / len(decode),
            "meter_lan_estimate_seconds_per_token": lan_estimate(out),
            "client_wall_seconds_incl_startup_and_offline": round(wall, 2),
            "totals": out["totals"], "breakdown": out["breakdown"],
        }
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        hosts.teardown()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tokens", type=int, default=8)
    p.add_argument("--prompt", default=DEFAULT_PROMPT)
    p.add_argument("--prompt-ids", help="comma-separated token ids instead of --prompt")
    p.add_argument("--model", help="a save_pretrained folder (default: the built-in E2E model)")
    p.add_argument("--rate", default="1gbit", help="egress rate of every interface ('' for none)")
    p.add_argument("--delay-ms", type=float, default=0.5, help="one-way delay in ms (netem; 0.5 = 1 ms RTT)")
    p.add_argument("--userspace-delay", action="store_true",
                   help="add the delay in a user-space switch instead of netem (for kernels without netem)")
    p.add_argument("--check", action="store_true", help="also decode in plaintext and compare")
    p.add_argument("--prefix", default="pf", help="name prefix of the namespaces and interfaces")
    p.add_argument("--subnet", default="10.77.0", help="the hosts get SUBNET.1 (client), .2 (server), .3 (dealer)")
    p.add_argument("--timeout", type=float, default=3600.0)
    args = p.parse_args(argv)
    try:
        result = run(args)
    except NetnsUnavailable as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0 if result["plaintext_match"] in (None, True) else 3


if __name__ == "__main__":
    sys.exit(main())
