"""The dealer service: pairs a session's client and server by id, deals fresh randomness per session,
refuses mismatched descriptions, reused session ids and half-met sessions with clear errors."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch

from privformers.mpc.party import Party
from privformers.mpc.programs import linear_demo, linear_demo_inputs
from privformers.mpc.ring import FixedPoint
from privformers.mpc.service import DealerService, send_json
from privformers.mpc.session import execute
from privformers.mpc.transport.base import SessionAborted, TransportError
from privformers.mpc.transport.connect import dial
from privformers.mpc.transport.tls import TlsConfig
from tests.mpc.test_tcp import run_threads
from tests.mpc.tls_helpers import make_pki, tls_pair

DESC = {"program": "linear-demo", "args": {"seed": 2}, "frac_bits": 16}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def dealer(pki):
    lines: list[str] = []
    service = DealerService(("127.0.0.1", 0), pki["dealer"], io_timeout=10, pair_timeout=1.5,
                            on_log=lambda who, text: lines.append(text))
    service.lines = lines
    service.start()
    yield service
    service.stop()


def party(role: str, pki, dealer, sid: bytes, peer_link, desc: dict) -> object:
    """One computing party of a linear-demo session that gets its randomness from the service."""
    to_dealer = dial(role, "dealer", sid, dealer.address, time.monotonic() + 5, 5, pki[role], 10)
    send_json(to_dealer, desc)
    p = Party(role, {"dealer": to_dealer, ("server" if role == "client" else "client"): peer_link}, FixedPoint(16))
    p.handshake()
    out = execute(p, linear_demo({"seed": 2}))
    p.close()
    return out


def session(pki, dealer, sid: bytes, client_desc: dict = DESC, server_desc: dict = DESC) -> list:
    c, s = tls_pair(pki, sid)
    return run_threads(lambda: party("client", pki, dealer, sid, c, client_desc),
                       lambda: party("server", pki, dealer, sid, s, server_desc))


def test_two_sessions_in_a_row_each_with_its_own_randomness(pki, dealer):
    x, w, b = linear_demo_inputs(2)
    for _ in range(2):
        y, _ = session(pki, dealer, os.urandom(16))
        assert not isinstance(y, BaseException), y
        assert (y.reshape(-1) - (x @ w + b).reshape(-1)).abs().max() < 1e-3
    # the service's own thread counts a session after the parties are done with it: wait for it
    deadline = time.monotonic() + 10
    while dealer.sessions_done < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dealer.sessions_done >= 2


def test_client_and_server_must_describe_the_same_session(pki, dealer):
    other = {**DESC, "args": {"seed": 3}}
    c, s = session(pki, dealer, os.urandom(16), DESC, other)
    for err in (c, s):
        assert isinstance(err, SessionAborted) and "describe different sessions" in str(err)


def test_a_session_id_is_used_once(pki, dealer):
    sid = os.urandom(16)
    y, _ = session(pki, dealer, sid)
    assert isinstance(y, torch.Tensor)
    with pytest.raises(TransportError, match="session id already in use"):
        dial("client", "dealer", sid, dealer.address, time.monotonic() + 5, 5, pki["client"], 10)


def test_half_met_session_is_ended_with_a_reason(pki, dealer):
    link = dial("client", "dealer", os.urandom(16), dealer.address, time.monotonic() + 5, 5, pki["client"], 10)
    send_json(link, DESC)
    with pytest.raises(SessionAborted, match="the server of this session did not reach the dealer within 1.5 s"):
        link.recv()
    link.close()


def test_paths_are_refused(pki, dealer):
    bad = {"program": "generate", "args": {"model": "/etc", "prompt_len": 1, "max_new_tokens": 1}, "frac_bits": 16}
    sid = os.urandom(16)
    links = [dial(r, "dealer", sid, dealer.address, time.monotonic() + 5, 5, pki[r], 10) for r in ("client", "server")]
    for link in links:
        send_json(link, bad)
    for link in links:
        with pytest.raises(SessionAborted, match="never a path"):
            link.recv()
        link.close()


def test_idle_connections_hold_no_session_slot(pki, dealer, monkeypatch):
    """Issue 29, item 8: authenticated connections that never describe a session held the dealer's
    slots (max_sessions) until the I/O timeout; now they hold none and are dropped after request_timeout."""
    monkeypatch.setattr(dealer, "request_timeout", 1.0, raising=False)
    idle = [dial(r, "dealer", os.urandom(16), dealer.address, time.monotonic() + 5, 5, pki[r], 10)
            for r in ("client", "server") * ((dealer.max_sessions + 2) // 2)]
    y, _ = session(pki, dealer, os.urandom(16))
    assert isinstance(y, torch.Tensor), y
    for link in idle:
        with pytest.raises(SessionAborted, match="waited 1 s for a message and gave up"):
            link.recv()
        link.close()


def test_past_max_pending_a_new_connection_ends_the_oldest_pending_one(dealer, monkeypatch):
    """Silent sockets cannot pile up: one past max_pending ends the oldest (which would otherwise
    wait out the 10 s handshake deadline)."""
    monkeypatch.setattr(dealer, "max_pending", 2, raising=False)
    socks = [socket.create_connection(dealer.address) for _ in range(3)]
    socks[0].settimeout(3)
    t0 = time.monotonic()
    assert socks[0].recv(1) == b""          # closed by the dealer
    assert time.monotonic() - t0 < 2.5
    for s in socks:
        s.close()
