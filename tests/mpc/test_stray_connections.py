"""A party's listening port during the connect phase: a stray connection (garbage, HTTP, silence, a peer
of another session, a certificate of another CA) is dropped with a line on stderr, and the session
still connects (issue 29, item 3); with only strays, the deadline error names the most telling one."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

import pytest

from privformers.mpc.launch import free_ports
from privformers.mpc.transport import acceptor
from privformers.mpc.transport.base import CertificateRefused, SessionMismatch, TransportError
from privformers.mpc.transport.connect import connect_party, dial
from privformers.mpc.transport.handshake import hello
from privformers.mpc.transport.tls import TlsConfig
from tests.mpc.test_tcp import addrs_of
from tests.mpc.tls_helpers import make_pki

ROLES = ("client", "server", "dealer")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return make_pki(tmp_path_factory.mktemp("other-pki"))


def reach(addr: tuple[str, int], timeout: float = 10.0) -> socket.socket:
    """A TCP connection to addr once something listens there (it stays silent until closed)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(addr, timeout=1.0)
        except OSError:
            assert time.monotonic() < end, f"nothing listens on {addr}"
            time.sleep(0.02)


def strays(addr: tuple[str, int], listener: str, secure: bool, pki: dict, other_pki: dict,
           silent: list[socket.socket], still_up: Callable[[], None]) -> None:
    """Knock on the listener's addr the ways a stranger would; silent sockets stay open (in silent).
    still_up() checks that the listening party has not ended."""
    for payload in (os.urandom(300), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello",
                    hello(os.urandom(16), "client")[:10]):
        with reach(addr) as s:
            s.sendall(payload)
        time.sleep(0.1)
        still_up()
    for _ in range(3):
        silent.append(reach(addr))
    # a privformers client of another session, with a valid certificate
    with pytest.raises(SessionMismatch):
        dial("client", listener, os.urandom(16), addr, time.monotonic() + 5, 5, pki["client"] if secure else None)
    if secure:   # a certificate signed by another CA
        with pytest.raises(CertificateRefused):
            dial("client", listener, os.urandom(16), addr, time.monotonic() + 5, 5, other_pki["client"])
    else:        # TLS to a plain listener
        with pytest.raises(TransportError):
            dial("client", listener, os.urandom(16), addr, time.monotonic() + 5, 5, pki["client"])


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
def test_stray_connections_do_not_end_the_connect_phase(secure, pki, other_pki, capfd, monkeypatch):
    monkeypatch.setattr(acceptor, "MAX_HANDSHAKES", 2)   # silent sockets beyond it only end each other's turn
    sid, addrs = os.urandom(16), addrs_of(free_ports(3))
    tls = {r: pki[r] if secure else None for r in ROLES}
    out: dict = {}

    def party(role: str) -> threading.Thread:
        def run() -> None:
            try:
                out[role] = connect_party(role, sid, addrs, 30, 10, tls=tls[role])
            except BaseException as exc:  # noqa: BLE001
                out[role] = exc
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def still_up(role: str) -> Callable[[], None]:
        def check() -> None:
            assert role not in out, f"the {role} ended on a stray connection: {out[role]!r}"
        return check

    silent: list[socket.socket] = []
    threads = [party("dealer")]
    strays(addrs["dealer"], "dealer", secure, pki, other_pki, silent, still_up("dealer"))
    threads.append(party("server"))
    strays(addrs["server"], "server", secure, pki, other_pki, silent, still_up("server"))
    t0 = time.monotonic()
    threads.append(party("client"))
    for t in threads:
        t.join(20)
    seconds = time.monotonic() - t0
    for s in silent:
        s.close()
    for role in ROLES:
        assert isinstance(out.get(role), dict), f"{role}: {out.get(role)!r}"
    assert seconds < 5, f"the real peers took {seconds:.1f} s to connect past the strays"
    links = {role: out[role] for role in ROLES}
    links["client"]["server"].send(b"hi")
    assert links["server"]["client"].recv() == b"hi"
    links["server"]["dealer"].send(b"ho")
    assert links["dealer"]["server"].recv() == b"ho"
    for mine in links.values():
        for link in mine.values():
            link.close()
    err = capfd.readouterr().err
    for role in ("dealer", "server"):
        assert f"[{role}] dropped a connection: connection from 127.0.0.1:" in err, err
    assert "belongs to session" in err and "still waiting for the" in err


def test_with_only_strays_the_deadline_error_names_the_most_telling(pki):
    sid, addrs = os.urandom(16), addrs_of(free_ports(3))
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("err", _catch(
        lambda: connect_party("dealer", sid, addrs, 3, tls=pki["dealer"], on_log=lambda text: None))), daemon=True)
    t.start()
    with reach(addrs["dealer"]) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(SessionMismatch):
        dial("server", "dealer", os.urandom(16), addrs["dealer"], time.monotonic() + 5, 5, pki["server"])
    with reach(addrs["dealer"]) as s:
        s.sendall(os.urandom(64))
    t.join(10)
    err = box["err"]
    assert isinstance(err, SessionMismatch), err
    assert "client at 127.0.0.1:" in str(err) and "did not connect within 3 s" in str(err)
    assert "refused 3 connections meanwhile, the most telling: server (connection from 127.0.0.1:" in str(err)
    assert "belongs to session" in str(err)


def _catch(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None
