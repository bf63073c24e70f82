"""Sessions over TLS: a foreign-session, replayed or truncated frame and a silent peer end the session
with a clear error on both ends of the link (the detecting end tells the other why)."""

from __future__ import annotations

import os
import time

import pytest
import torch

from privformers.mpc.transport.base import PeerDisconnected, PeerTimeout, SessionAborted, SessionMismatch, TlsError
from privformers.mpc.transport.frame import KIND_BYTES, KIND_TENSOR, encode_header
from privformers.mpc.transport.tls import TlsConfig
from tests.mpc.test_tcp import tcp_pair
from tests.mpc.tls_helpers import make_pki, tls_pair


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsConfig]:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_frame_of_another_session_ends_both_sides(pki):
    a, b = tls_pair(pki, os.urandom(16), os.urandom(16))
    a.send(torch.ones(2))
    with pytest.raises(SessionMismatch, match=r"client sent a frame of session .*, this is session .*: refused"):
        b.recv()
    with pytest.raises(SessionAborted, match=r"server ended the session: refused a frame: .*frame of session"):
        a.recv()
    with pytest.raises(SessionMismatch):              # the session stays ended
        b.recv()
    a.close()
    b.close()


def test_replayed_frame_ends_both_sides(pki):
    sid = os.urandom(16)
    a, b = tls_pair(pki, sid)
    a.send(b"first")
    assert b.recv() == b"first"
    a._stream.send_frame(encode_header(sid, 0, KIND_BYTES, 0, (), 5), b"first")   # the same frame again
    with pytest.raises(Exception, match=r"sent message #0, expected #1: messages lost or replayed"):
        b.recv()
    with pytest.raises(SessionAborted, match="replayed"):
        a.recv()
    a.close()
    b.close()


def test_truncated_frame_over_tls_is_reported(pki):
    sid = os.urandom(16)
    a, b = tls_pair(pki, sid)
    head = encode_header(sid, 0, KIND_TENSOR, 1, (1000,), 8000)
    a._stream.send_frame(head, b"\0" * 80)        # header promises 8000 bytes, 80 arrive
    a._stream.sock.close()                         # the process dies: no TLS close_notify
    with pytest.raises(PeerDisconnected, match="without ending TLS .*cut short"):
        b.recv()
    b.close()


def test_truncated_frame_over_plain_tcp_is_reported():
    sid = os.urandom(16)
    a, b = tcp_pair(sid)
    a._stream.send_frame(encode_header(sid, 0, KIND_TENSOR, 1, (1000,), 8000), b"\0" * 80)
    a._stream.sock.close()
    with pytest.raises(PeerDisconnected, match=r"in the middle of a message \(truncated\)"):
        b.recv()
    b.close()


def test_silent_peer_times_out_and_is_told(pki):
    a, b = tls_pair(pki, os.urandom(16), timeout=0.5)
    t0 = time.perf_counter()
    with pytest.raises(PeerTimeout, match=r"client sent nothing for 0.5 s"):
        b.recv()
    assert time.perf_counter() - t0 < 3
    with pytest.raises(SessionAborted, match=r"server ended the session: waited 0.5 s for a message and gave up"):
        a.recv()
    a.close()
    b.close()


def test_tampered_tls_record_is_refused(pki):
    """Bytes changed on the wire: TLS refuses the record; the link ends with a TLS error."""
    sid = os.urandom(16)
    a, b = tls_pair(pki, sid)
    stream = a._stream
    with stream._lock:
        stream._tls.write(encode_header(sid, 0, KIND_BYTES, 0, (), 4) + b"abcd")
        record = bytearray(stream._out.read())
    record[-1] ^= 1                                   # flip one bit of the authentication tag
    stream.sock.sendall(bytes(record))
    with pytest.raises(TlsError, match="TLS error with"):
        b.recv()
    a.close()
    b.close()
