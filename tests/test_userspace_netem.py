"""The user-space delay switch (scripts/userspace_netem.py): frames arrive intact, each one delay later."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SWITCH = Path(__file__).resolve().parents[1] / "scripts" / "userspace_netem.py"
HOSTS = {"a": "10.86.0.1", "b": "10.86.0.2"}
LAN = "pfsw-lan"

PEER = """
import hashlib, socket, statistics, sys, time
mode, host = sys.argv[1], sys.argv[2]
if mode == "serve":
    srv = socket.create_server((host, 7301)); print("ready", flush=True)
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(50):
        c.sendall(c.recv(64))
    h = hashlib.sha256(); n = 0
    while n < 8 << 20:
        m = c.recv(1 << 20); h.update(m); n += len(m)
    c.sendall(h.hexdigest().encode())
else:
    s = socket.create_connection((host, 7301)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ts = []
    for _ in range(50):
        t0 = time.perf_counter(); s.sendall(b"x"); s.recv(64); ts.append(time.perf_counter() - t0)
    data = bytes(range(256)) * (32 << 10)
    s.sendall(data)
    print(statistics.median(ts) * 1e3, s.recv(64).decode(), hashlib.sha256(data).hexdigest())
"""


def sh(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    return subprocess.run(["ip", "netns", "add", "pfsw-probe"], capture_output=True).returncode == 0 and \
        subprocess.run(["ip", "netns", "del", "pfsw-probe"], capture_output=True).returncode == 0


def teardown() -> None:
    for ns in (LAN, *(f"pfsw-{h}" for h in HOSTS)):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def two_hosts_through_the_switch(delay_ms: float) -> tuple[float, str, str]:
    """(median ping-pong ms, sha256 the receiver computed, sha256 of what was sent)."""
    teardown()
    sh("ip", "netns", "add", LAN)
    for h, ip in HOSTS.items():
        ns, host_if, port_if = f"pfsw-{h}", f"pfsw{h}0", f"pfsw{h}1"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", port_if)
        sh("ip", "link", "set", host_if, "netns", ns)
        sh("ip", "link", "set", port_if, "netns", LAN)
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", host_if)
        for where, dev in ((ns, host_if), (LAN, port_if)):
            sh("ip", "-n", where, "link", "set", dev, "mtu", "65000")
            sh("ip", "netns", "exec", where, sys.executable, str(SWITCH), "--offloads-off", dev)
            sh("ip", "-n", where, "link", "set", dev, "up")
    switch = subprocess.Popen(["ip", "netns", "exec", LAN, sys.executable, str(SWITCH), "--delay-ms", str(delay_ms),
                               "pfswa1", "pfswb1"], stdout=subprocess.PIPE, text=True)
    server = None
    try:
        assert "switching" in switch.stdout.readline()
        server = subprocess.Popen(["ip", "netns", "exec", "pfsw-b", sys.executable, "-c", PEER, "serve", HOSTS["b"]],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "ready"
        out = sh("ip", "netns", "exec", "pfsw-a", sys.executable, "-c", PEER, "ping", HOSTS["b"]).stdout.split()
        return float(out[0]), out[1], out[2]
    finally:
        for proc in (server, switch):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
        teardown()


@pytest.mark.skipif(not available(), reason="needs root and network namespaces")
def test_every_frame_is_held_for_the_delay_each_way_and_arrives_intact():
    fast, got, sent = two_hosts_through_the_switch(0.0)
    assert got == sent
    slow, got, sent = two_hosts_through_the_switch(3.0)
    assert got == sent                       # 8 MB in 65000-byte frames, byte for byte
    assert 6.0 <= slow < 6.0 + 3.0, slow     # a round trip crosses the switch twice
    assert fast < 2.0, fast


def test_a_negative_delay_is_refused():
    spec = importlib.util.spec_from_file_location("userspace_netem", SWITCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(ValueError, match="delay must be >= 0"):
        mod.DelaySwitch([], -1.0)
