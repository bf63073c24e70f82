"""Certificates and connected TLS channels for transport tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from privformers.mpc.transport.certs import PartyFiles, make_certs
from privformers.mpc.transport.connect import open_stream
from privformers.mpc.transport.tcp import TcpChannel
from privformers.mpc.transport.tls import TlsConfig


def make_pki(folder: Path) -> dict[str, TlsConfig]:
    """A fresh CA and each role's TlsConfig."""
    files: dict[str, PartyFiles] = make_certs(folder, days=1)
    return {role: TlsConfig.from_files(f) for role, f in files.items()}


def tls_streams(a: TlsConfig, b: TlsConfig, timeout: float = 5.0) -> tuple:
    """A connected pair of TLS streams over localhost: (a's end as TLS client, b's end as TLS server)."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        ca = socket.create_connection(srv.getsockname())
        cb, _ = srv.accept()
    out: dict = {}

    def server_side() -> None:
        try:
            out["b"] = open_stream(cb, b, True, "a", time.monotonic() + timeout)
        except BaseException as exc:  # noqa: BLE001
            out["b"] = exc

    t = threading.Thread(target=server_side, daemon=True)
    t.start()
    try:
        out["a"] = open_stream(ca, a, False, "b", time.monotonic() + timeout)
    except BaseException as exc:  # noqa: BLE001
        out["a"] = exc
    t.join(timeout + 1)
    return out["a"], out["b"]


def tls_pair(pki: dict[str, TlsConfig], sid_a: bytes, sid_b: bytes | None = None,
             timeout: float = 10.0) -> tuple[TcpChannel, TcpChannel]:
    """The client's TLS link to the server and the server's to the client."""
    a, b = tls_streams(pki["client"], pki["server"])
    return TcpChannel(a, "server", sid_a, timeout), TcpChannel(b, "client", sid_b or sid_a, timeout)
