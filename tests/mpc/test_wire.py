"""What an eavesdropper sees: every byte on the three links, captured by relays between the parties.

With TLS the capture holds none of the messages the parties received (masked openings, shares,
seeds, the dealer's material); with --insecure-transport (the control) it holds all of them.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import torch

from privformers.mpc.launch import free_ports
from privformers.mpc.party import Party
from privformers.mpc.programs import linear_demo, linear_demo_inputs
from privformers.mpc.ring import FixedPoint
from privformers.mpc.session import execute
from privformers.mpc.transport.base import Message
from privformers.mpc.transport.connect import connect_party
from tests.mpc.test_tcp import run_threads
from tests.mpc.tls_helpers import make_pki

ROLES = ("client", "server", "dealer")
LINKS = (("client", "server"), ("client", "dealer"), ("server", "dealer"))


class Relay:
    """Forwards one TCP connection to target and keeps a copy of every byte, both directions."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.captured = target, bytearray()
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.addr = self.listener.getsockname()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        a, _ = self.listener.accept()
        for _ in range(200):                          # the target may not listen yet
            try:
                b = socket.create_connection(self.target)
                break
            except OSError:
                time.sleep(0.05)
        else:
            a.close()
            return
        threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        self._pump(b, a)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self._lock:
                self.captured += data
            try:
                dst.sendall(data)
            except OSError:
                return


class Keep:
    """A channel wrapper that keeps every message its party received."""

    def __init__(self, inner, store: list[bytes]) -> None:
        self.peer, self._inner, self._store = inner.peer, inner, store

    def send(self, msg: Message) -> int:
        return self._inner.send(msg)

    def recv(self) -> Message:
        msg = self._inner.recv()
        self._store.append(msg.contiguous().reshape(-1).numpy().tobytes() if isinstance(msg, torch.Tensor)
                           else bytes(msg))
        return msg

    def close(self) -> None:
        self._inner.close()


def run_with_capture(tls: dict | None) -> tuple[torch.Tensor, list[bytes], bytes]:
    """linear-demo over relays: the client's result, every received message, and the wire capture."""
    real = dict(zip(ROLES, free_ports(3)))
    relays = {link: Relay(("127.0.0.1", real[link[1]])) for link in LINKS}
    view = {role: {r: ("127.0.0.1", real[r]) for r in ROLES} for role in ROLES}
    for a, b in LINKS:
        view[a][b] = relays[(a, b)].addr             # the connecting side goes through the relay
    sid, received, results = os.urandom(16), [], {}
    program = linear_demo({"seed": 3})

    def party(role: str) -> None:
        links = connect_party(role, sid, view[role], 10, 10, tls=None if tls is None else tls[role])
        p = Party(role, {peer: Keep(ch, received) for peer, ch in links.items()}, FixedPoint(16))
        p.handshake()
        results[role] = execute(p, program)
        p.close()

    for out in run_threads(*(lambda r=r: party(r) for r in ROLES)):
        assert not isinstance(out, BaseException), out
    capture = b"".join(bytes(r.captured) for r in relays.values())
    return results["client"], received, capture


def chunks(messages: list[bytes], size: int = 8) -> list[bytes]:
    """Aligned 8-byte pieces (one ring element each) of every received message: what an eavesdropper
    would look for (a random 8-byte string shows up by chance in the capture with odds ~ 2^-50)."""
    return [m[i:i + size] for m in messages for i in range(0, len(m) - size + 1, size)]


@pytest.mark.parametrize("secure", [True, False], ids=["tls", "insecure-control"])
def test_capture_holds_no_opened_value_with_tls(secure, tmp_path):
    result, received, capture = run_with_capture(make_pki(tmp_path) if secure else None)
    x, w, b = linear_demo_inputs(3)
    assert (result.reshape(-1) - (x @ w + b).reshape(-1)).abs().max() < 1e-3
    pieces = chunks(received)
    assert len(pieces) > 60 and len(capture) > sum(map(len, received))
    found = sum(p in capture for p in pieces)
    if secure:
        assert found == 0, f"{found} of {len(pieces)} received 8-byte pieces appear on the wire"
        assert x.numpy().tobytes()[:16] not in capture
    else:
        assert found == len(pieces)                   # the control: plain TCP shows every one
