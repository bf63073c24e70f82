"""The handshake that opens every link, after TCP and TLS: roles, protocol version and session id.

The connecting side sends HELLO(role, session, status); the listening side checks it (the
claimed role must be the certificate's) and answers HELLO(its role, status); the connecting
side checks that answer and sends one status byte. A wrong session, role or certificate is
reported on both sides. Used by party processes (``connect.py``, ``acceptor.py``) and by the
long-running services (``privformers.mpc.service``).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from privformers.mpc.transport.base import CertificateRefused, SessionMismatch, TransportError
from privformers.mpc.transport.frame import MAGIC, VERSION
from privformers.mpc.transport.stream import TLS_HANDSHAKE_PREFIX, PlainStream, Stream
from privformers.mpc.transport.tls import TlsConfig, TlsStream

HELLO = struct.Struct("!4sB16sBB")
ROLE_CODES = {"client": 1, "server": 2, "dealer": 3}
CODE_ROLES = {v: k for k, v in ROLE_CODES.items()}
OK, BAD_SESSION, BAD_ROLE, BAD_VERSION, BAD_CERT, BUSY, DUPLICATE = range(7)
REASONS = {BAD_SESSION: "session id differs", BAD_ROLE: "unexpected role",
           BAD_VERSION: "protocol version differs", BAD_CERT: "certificate is for another role",
           BUSY: "too many sessions at once, try again later", DUPLICATE: "session id already in use"}

Addr = tuple[str, int]
Check = Callable[[str, bytes], int]


def fmt(addr: Addr) -> str:
    """HOST:PORT."""
    return f"{addr[0]}:{addr[1]}"


def hello(session: bytes, role: str, status: int = OK) -> bytes:
    """The HELLO message of role for session, with a status."""
    return HELLO.pack(MAGIC, VERSION, session, ROLE_CODES[role], status)


def read_exact(stream: Stream, n: int, who: str) -> bytes:
    """n bytes of handshake from who (the stream's timeout bounds each wait)."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        try:
            k = stream.recv_into(view[got:])
        except TimeoutError:
            raise TransportError(f"{who} did not complete the handshake in time") from None
        except OSError as exc:
            raise TransportError(f"{who} disconnected during the handshake ({exc.__class__.__name__})") from None
        if k == 0:
            raise TransportError(f"{who} closed the connection during the handshake")
        got += k
    return bytes(buf)


def open_stream(sock: socket.socket, tls: TlsConfig | None, server_side: bool, who: str,
                deadline: float) -> Stream:
    """Wrap a connected socket: plain, or TLS after a completed handshake."""
    if tls is None:
        return PlainStream(sock, who)
    stream = TlsStream(sock, tls, server_side, who)
    stream.handshake(deadline)
    return stream


def greet(role: str, stream: Stream, session: bytes | None, waiting: set[str], who: str, tls: TlsConfig | None,
          check: Check | None = None) -> tuple[str, bytes]:
    """The listening side of the handshake; returns the peer's role and the session id.

    check(peer, session) may refuse a well-formed hello with a status (BUSY, DUPLICATE)."""
    raw = read_exact(stream, HELLO.size, who)
    magic, version, sid, code, their = HELLO.unpack(raw)
    peer = CODE_ROLES.get(code, f"role #{code}")
    cert_role = stream.peer_role() if tls is not None else peer
    status = OK
    if magic != MAGIC or version != VERSION:
        status = BAD_VERSION
    elif their == BAD_CERT:
        raise CertificateRefused(f"{peer} ({who}) refused our certificate: it is not for the {role}")
    elif cert_role != peer:
        status = BAD_CERT
    elif session is not None and sid != session:
        status = BAD_SESSION
    elif peer not in waiting:
        status = BAD_ROLE
    elif check is not None:
        status = check(peer, sid)
    stream.send_frame(hello(session or sid, role, status))
    if status == BAD_VERSION:
        if tls is None and raw.startswith(TLS_HANDSHAKE_PREFIX):
            raise TransportError(f"{who} speaks TLS, and we run with --insecure-transport: refused")
        raise TransportError(f"{who} does not speak privformers v{VERSION}: refused")
    if status == BAD_SESSION:
        raise SessionMismatch(f"{peer} ({who}) belongs to session {sid.hex()[:12]}..., ours is "
                              f"{session.hex()[:12]}...: refused")
    if status == BAD_CERT:
        raise CertificateRefused(f"{who} claims to be the {peer} with a certificate for the {cert_role}: refused")
    if status != OK:
        raise TransportError(f"{who} claims to be {peer!r}, but {role} expects {sorted(waiting)} "
                             f"({REASONS[status]})" if status == BAD_ROLE else
                             f"{peer} ({who}) refused: {REASONS[status]}")
    ack = read_exact(stream, 1, f"{peer} ({who})")[0]
    if ack != OK:
        raise (SessionMismatch if ack == BAD_SESSION else TransportError)(
            f"{peer} ({who}) refused our handshake: {REASONS.get(ack, ack)}")
    return peer, sid
