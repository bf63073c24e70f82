"""What a link costs per message: round trips between two processes over TLS 1.3 and over plain TCP.

This process and a peer process (``python -m privformers.mpc.bench_transport PORT [PKI_DIR]``) bounce a
tensor of each size back and forth over one ``TcpChannel``; the median wall time of a round trip
and this process's CPU time per round trip are reported for each transport. Multiplied by a
workload's rounds and bytes (``bench generate``), the TLS-minus-TCP difference is what TLS adds.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from privformers.mpc.transport.certs import make_certs
from privformers.mpc.transport.connect import open_stream
from privformers.mpc.transport.tcp import TcpChannel
from privformers.mpc.transport.tls import TlsConfig

SESSION = bytes(16)
SIZES = (8, 1024, 65536, 1 << 20, 16 << 20)


def _channel(sock: socket.socket, pki: Path | None, role: str) -> TcpChannel:
    sock.settimeout(10)
    tls = None if pki is None else TlsConfig(pki / f"{role}.pem", pki / f"{role}.key", pki / "ca.pem")
    stream = open_stream(sock, tls, role == "server", "peer", time.monotonic() + 10)
    return TcpChannel(stream, "peer", SESSION, 30.0)


def _iterations(nbytes: int, seconds: float) -> int:
    """About seconds of work at ~200 MB/s or 5,000 small round trips per second, at least 5."""
    return max(5, int(seconds / max(2e-4, 2 * nbytes / 200e6)))


def measure(transport: str, sizes: tuple[int, ...] = SIZES, seconds: float = 1.0) -> list[dict]:
    """Round trips of each size with a peer process; one row per size."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="privformers-bench-") as tmp:
        pki = None
        if transport == "tls":
            pki = Path(tmp)
            os.chmod(pki, 0o700)
            make_certs(pki, days=1, keep_ca_key=False)
        with socket.create_server(("127.0.0.1", 0)) as srv:
            cmd = [sys.executable, "-m", "privformers.mpc.bench_transport", str(srv.getsockname()[1])]
            peer = subprocess.Popen(cmd + ([str(pki)] if pki else []))
            srv.settimeout(60)
            sock, _ = srv.accept()
        link = _channel(sock, pki, "server")
        rows = []
        try:
            for n in sizes:
                msg = torch.zeros(max(1, n // 8), dtype=torch.int64)
                iters = _iterations(n, seconds)
                for _ in range(max(2, iters // 10)):           # warm up
                    link.send(msg)
                    link.recv()
                times, cpu0 = [], time.process_time()
                for _ in range(iters):
                    t0 = time.perf_counter()
                    link.send(msg)
                    link.recv()
                    times.append(time.perf_counter() - t0)
                cpu = (time.process_time() - cpu0) / iters
                median = statistics.median(times)
                rows.append({"transport": transport, "bytes": msg.numel() * 8, "round_trips": iters,
                             "round_trip_us_median": round(median * 1e6, 1),
                             "cpu_us_per_round_trip": round(cpu * 1e6, 1),
                             "mb_per_s_each_way": round(msg.numel() * 8 / (median / 2) / 1e6, 1)})
            link.send(b"stop")
        finally:
            link.close(flush_timeout=2)
            peer.wait(30)
    return rows


def _peer(port: int, pki: Path | None) -> None:
    torch.set_num_threads(1)
    link = _channel(socket.create_connection(("127.0.0.1", port)), pki, "client")
    while True:
        msg = link.recv()
        if isinstance(msg, bytes):
            break
        link.send(msg)
    link.close(flush_timeout=2)


if __name__ == "__main__":   # the peer that ``measure`` starts: PORT to connect to, and the PKI folder for TLS
    _peer(int(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
