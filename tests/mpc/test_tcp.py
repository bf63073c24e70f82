"""TCP links: every dtype, large simultaneous messages, timeouts, disconnects, foreign sessions."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import torch

from privformers.mpc.launch import free_ports
from privformers.mpc.transport.base import PeerDisconnected, PeerTimeout, SessionMismatch, TransportError
from privformers.mpc.transport.connect import connect_party, dial
from privformers.mpc.transport.frame import KIND_BYTES, encode_header
from privformers.mpc.transport.tcp import TcpChannel

DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.float64, torch.float32,
          torch.bool)


def raw_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected TCP sockets on localhost."""
    with socket.create_server(("127.0.0.1", 0)) as srv:
        a = socket.create_connection(srv.getsockname())
        b, _ = srv.accept()
    return a, b


def tcp_pair(sid_a: bytes, sid_b: bytes | None = None,
             timeout: float = 10.0) -> tuple[TcpChannel, TcpChannel]:
    """The client's end (peer "server") and the server's end (peer "client") of one link."""
    a, b = raw_pair()
    return TcpChannel(a, "server", sid_a, timeout), TcpChannel(b, "client", sid_b or sid_a, timeout)


def run_threads(*fns, timeout: float = 30.0) -> list:
    """Run fns concurrently; their results (re-raising the first error); fails instead of hanging."""
    out: list = [None] * len(fns)

    def wrap(i, fn):
        try:
            out[i] = fn()
        except BaseException as exc:  # noqa: BLE001
            out[i] = exc

    ts = [threading.Thread(target=wrap, args=(i, f), daemon=True) for i, f in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout)
        assert not t.is_alive(), "hang"
    return out


def test_every_dtype_and_bytes():
    a, b = tcp_pair(os.urandom(16))
    for dt in DTYPES:
        for shape in ((3, 4), (0,), (), (2, 1, 3)):
            t = (torch.arange(max(1, torch.Size(shape).numel())).reshape(-1)[: torch.Size(shape).numel()]
                 .reshape(shape) % 7 - 3).to(dt)
            assert a.send(t) == t.numel() * t.element_size()
            got = b.recv()
            assert got.dtype == dt and got.shape == t.shape and torch.equal(got, t)
    t = torch.arange(10)[::2]                       # non-contiguous
    a.send(t)
    t.zero_()                                       # changing it after send does not change what was sent
    assert torch.equal(b.recv(), torch.arange(10)[::2])
    assert b.send(b"hello") == 5 and a.recv() == b"hello"
    b.send(b"")
    assert a.recv() == b""
    a.close()
    b.close()


def test_large_messages_both_ways_at_once():
    a, b = tcp_pair(os.urandom(16))
    x = torch.randint(-2**62, 2**62, (50_000_000 // 8,))
    y = torch.randint(-2**62, 2**62, (50_000_000 // 8,))

    def side(ch, msg):
        ch.send(msg)
        return ch.recv()

    t0 = time.perf_counter()
    got_a, got_b = run_threads(lambda: side(a, x), lambda: side(b, y))
    seconds = time.perf_counter() - t0
    assert torch.equal(got_a, y) and torch.equal(got_b, x)
    print(f"50 MB each way at once: {seconds:.2f} s, {2 * 50 / seconds:.0f} MB/s total")
    a.close()
    b.close()


def test_silent_peer_times_out():
    a, b = tcp_pair(os.urandom(16), timeout=0.5)
    t0 = time.perf_counter()
    with pytest.raises(PeerTimeout, match=r"client sent nothing for 0.5 s"):
        b.recv()
    assert time.perf_counter() - t0 < 3
    a.close()
    b.close()


def test_disconnect_and_close_are_reported():
    a, b = tcp_pair(os.urandom(16))
    a.send(torch.ones(3))
    a.close()
    assert torch.equal(b.recv(), torch.ones(3))     # close flushes first
    with pytest.raises(PeerDisconnected, match="client closed the link"):
        b.recv()
    b.close()
    raw, other = raw_pair()
    ch = TcpChannel(other, "dealer", os.urandom(16), 10.0)
    raw.close()                                     # abrupt: the process died
    with pytest.raises(PeerDisconnected, match="dealer"):
        ch.recv()
    ch.close()


def test_frame_of_another_session_is_refused():
    a, b = tcp_pair(os.urandom(16), os.urandom(16))
    a.send(torch.ones(2))
    with pytest.raises(SessionMismatch, match="another session|session"):
        b.recv()
    a.close()
    b.close()


def test_out_of_order_frame_is_refused():
    sid = os.urandom(16)
    raw, other = raw_pair()
    ch = TcpChannel(other, "client", sid, 10.0)
    raw.sendall(encode_header(sid, 5, KIND_BYTES, 0, (), 0))
    with pytest.raises(TransportError, match="#5, expected #0"):
        ch.recv()
    ch.close()
    raw.close()


def addrs_of(ports) -> dict:
    return {r: ("127.0.0.1", p) for r, p in zip(("client", "server", "dealer"), ports)}


def test_connect_party_links_all_three():
    sid, addrs = os.urandom(16), addrs_of(free_ports(3))
    links = dict(zip(("client", "server", "dealer"),
                     run_threads(*(lambda r=r: connect_party(r, sid, addrs, 10, 10, tls=None)
                                   for r in ("client", "server", "dealer")))))
    for role, mine in links.items():
        assert not isinstance(mine, BaseException), mine
        assert sorted(mine) == sorted({"client", "server", "dealer"} - {role})
        for peer, ch in mine.items():
            ch.send(f"{role}->{peer}".encode())
    for role, mine in links.items():
        for peer, ch in mine.items():
            assert ch.recv() == f"{peer}->{role}".encode()
            ch.close()


def test_missing_peer_is_a_clear_error_not_a_hang():
    addrs = addrs_of(free_ports(3))
    t0 = time.perf_counter()
    missing = r"client at 127.0.0.1:\d+ and server at .* did not connect within 1 s"
    with pytest.raises(TransportError, match=missing):
        connect_party("dealer", os.urandom(16), addrs, connect_timeout=1.0, tls=None)
    with pytest.raises(TransportError, match=r"could not reach server at 127.0.0.1:\d+ within 1 s"):
        connect_party("client", os.urandom(16), addrs, connect_timeout=1.0, tls=None)
    assert time.perf_counter() - t0 < 5


def test_wrong_session_or_role_fails_on_both_sides():
    """The refused peer fails at once; the listener, which cannot tell it from a stranger, waits on for
    its real peers and then names the refusal (and keeps its class)."""
    addrs = addrs_of(free_ports(3))
    dealer, server = run_threads(lambda: connect_party("dealer", os.urandom(16), addrs, 2, tls=None),
                                 lambda: connect_party("server", os.urandom(16), addrs, 5, tls=None))
    assert isinstance(dealer, SessionMismatch) and "server" in str(dealer)
    assert "did not connect within 2 s; refused a connection: server (connection from 127.0.0.1:" in str(dealer)
    assert isinstance(server, SessionMismatch) and "dealer at" in str(server)

    sid = os.urandom(16)
    dealer, impostor = run_threads(lambda: connect_party("dealer", sid, addrs, 2, tls=None),
                                   lambda: dial("dealer", "dealer", sid, addrs["dealer"],
                                                time.monotonic() + 5, 5, None))
    assert isinstance(dealer, TransportError) and "claims to be 'dealer'" in str(dealer)
    assert isinstance(impostor, TransportError) and "unexpected role" in str(impostor)


def test_a_sender_far_ahead_of_its_reader_waits(monkeypatch):
    """Backpressure: queued bytes stay bounded (a fast dealer does not buffer a whole session)."""
    import privformers.mpc.transport.tcp as tcp

    monkeypatch.setattr(tcp, "MAX_QUEUED", 1 << 20)
    sender, reader = tcp_pair(b"s" * 16)
    big = torch.zeros(1 << 19, dtype=torch.int64)   # 4 MiB per message, far beyond socket buffers
    done = threading.Event()

    def produce():
        for _ in range(8):
            sender.send(big)
        done.set()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    time.sleep(1.0)
    assert not done.is_set()                     # blocked: the reader has not read anything
    assert sender._queued_bytes <= (1 << 20) + big.numel() * 8
    got = [reader.recv() for _ in range(8)]      # reading drains the queue and lets the sender finish
    assert done.wait(10)
    assert all(torch.equal(g, big) for g in got)
    sender.close()
    reader.close()
