"""Setting up the three links of a session: TCP, then TLS 1.3 with mutual authentication, then a
handshake that checks roles and the session id.

Topology (no cycles of waiting): the dealer listens for the client and the server; the server
listens for the client and connects to the dealer; the client connects to both. Every party
binds its listening socket before connecting anywhere, and every wait ends at a deadline.

On each link the connecting side runs the TLS client and the listening side the TLS server;
each verifies the other's certificate against the session CA and reads the peer's role from it
(``tls.py``). Then the connecting side sends HELLO(role, session); the listening side checks it
(the claimed role must be the certificate's) and answers HELLO(its role, status); the
connecting side checks that answer and sends one status byte. A wrong session, role or
certificate is reported on both sides. ``tls=None`` means plain TCP (--insecure-transport).
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from privformers.mpc.transport.base import CertificateRefused, SessionMismatch, TransportError
from privformers.mpc.transport.frame import MAGIC, VERSION
from privformers.mpc.transport.stream import TLS_ALERT_PREFIX, TLS_HANDSHAKE_PREFIX, PlainStream, Stream
from privformers.mpc.transport.tcp import TcpChannel
from privformers.mpc.transport.tls import TlsConfig, TlsStream

HELLO = struct.Struct("!4sB16sBB")
ROLE_CODES = {"client": 1, "server": 2, "dealer": 3}
CODE_ROLES = {v: k for k, v in ROLE_CODES.items()}
OK, BAD_SESSION, BAD_ROLE, BAD_VERSION, BAD_CERT, BUSY, DUPLICATE = range(7)
REASONS = {BAD_SESSION: "session id differs", BAD_ROLE: "unexpected role",
           BAD_VERSION: "protocol version differs", BAD_CERT: "certificate is for another role",
           BUSY: "too many sessions at once, try again later", DUPLICATE: "session id already in use"}
LISTENS_FOR = {"dealer": ("client", "server"), "server": ("client",), "client": ()}
CONNECTS_TO = {"client": ("server", "dealer"), "server": ("dealer",), "dealer": ()}

Addr = tuple[str, int]
Check = Callable[[str, bytes], int]


def fmt(addr: Addr) -> str:
    return f"{addr[0]}:{addr[1]}"


def connect_party(role: str, session_id: bytes, addrs: dict[str, Addr], connect_timeout: float = 30.0,
                  io_timeout: float = 60.0, *, tls: TlsConfig | None) -> dict[str, TcpChannel]:
    """This party's links to the other two, keyed by peer role; raises TransportError, never hangs."""
    if role not in ROLE_CODES:
        raise ValueError(f"role must be one of {tuple(ROLE_CODES)}, got {role!r}")
    if tls is not None:
        tls.check_role(role)
    deadline = time.monotonic() + connect_timeout
    listener = listen(role, addrs[role]) if LISTENS_FOR[role] else None
    links: dict[str, TcpChannel] = {}
    try:
        for peer in CONNECTS_TO[role]:
            links[peer] = dial(role, peer, session_id, addrs[peer], deadline, connect_timeout, tls, io_timeout)
        if listener is not None:
            waiting = set(LISTENS_FOR[role])
            while waiting:
                stream, peer, _ = accept(role, listener, session_id, waiting, deadline, connect_timeout, tls, addrs)
                waiting.discard(peer)
                links[peer] = TcpChannel(stream, peer, session_id, io_timeout, fmt(addrs[peer]))
    except BaseException:
        for link in links.values():
            link.close(flush_timeout=0.5)
        raise
    finally:
        if listener is not None:
            listener.close()
    return links


def listen(role: str, addr: Addr, backlog: int = 8) -> socket.socket:
    """A listening socket on addr (clear error when the address is taken or not ours)."""
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise TransportError(f"{role} cannot listen on {fmt(addr)}: {exc.strerror or exc}") from None
    sock.listen(backlog)
    return sock


def _hello(session: bytes, role: str, status: int = OK) -> bytes:
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


def _not_ours(raw: bytes, who: str, tls: TlsConfig | None) -> TransportError:
    if tls is None and raw.startswith(TLS_ALERT_PREFIX):
        return TransportError(f"{who} answered with TLS: it expects an encrypted link, and we run with "
                              "--insecure-transport")
    return TransportError(f"{who} does not speak privformers v{VERSION}")


def _connect_tcp(who: str, addr: Addr, deadline: float, total: float) -> socket.socket:
    last: OSError | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError(f"could not reach {who} within {total:g} s ({last})")
        try:
            return socket.create_connection(addr, timeout=min(left, 2.0))
        except OSError as exc:
            last = exc
            time.sleep(min(0.1, max(left, 0)))


def dial(role: str, peer: str, session: bytes, addr: Addr, deadline: float, total: float,
         tls: TlsConfig | None, io_timeout: float = 60.0) -> TcpChannel:
    """Connect to a listening peer (retrying until it is up), then TLS and our side of the handshake."""
    who = f"{peer} at {fmt(addr)}"
    sock = _connect_tcp(who, addr, deadline, total)
    stream: Stream | None = None
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        stream = open_stream(sock, tls, False, who, deadline)
        cert_ok = tls is None or stream.peer_role() == peer
        stream.send_frame(_hello(session, role, OK if cert_ok else BAD_CERT))
        if not cert_ok:
            raise CertificateRefused(f"{who} presented a certificate for the {stream.peer_role()}, not the {peer}: "
                                     "refused")
        stream.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            raw = read_exact(stream, HELLO.size, who)
        except TransportError as exc:
            if tls is None:
                raise TransportError(f"{exc} (if it uses TLS: we run with --insecure-transport)") from None
            raise
        magic, version, sid, code, status = HELLO.unpack(raw)
        if magic != MAGIC or version != VERSION:
            stream.send_frame(bytes([BAD_VERSION]))
            raise _not_ours(raw, who, tls)
        if status != OK:
            raise (SessionMismatch if status == BAD_SESSION else TransportError)(
                f"{who} refused the handshake: {REASONS.get(status, status)}")
        mine = OK
        if sid != session:
            mine = BAD_SESSION
        elif CODE_ROLES.get(code) != peer:
            mine = BAD_ROLE
        stream.send_frame(bytes([mine]))
        if mine == BAD_SESSION:
            raise SessionMismatch(f"{who} answered for session {sid.hex()[:12]}..., "
                                  f"ours is {session.hex()[:12]}...")
        if mine != OK:
            raise TransportError(f"{who} answered as {CODE_ROLES.get(code, code)!r} ({REASONS[mine]})")
        return TcpChannel(stream, peer, session, io_timeout, fmt(addr))
    except BaseException:
        (stream or sock).close()
        raise


def accept(role: str, listener: socket.socket, session: bytes | None, waiting: set[str], deadline: float,
           total: float, tls: TlsConfig | None, addrs: dict[str, Addr] | None = None) -> tuple[Stream, str, bytes]:
    """Accept one expected peer and run the listening side of TLS and the handshake.

    Returns (stream, peer role, session id); session None accepts the id the peer brings."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            names = " and ".join(f"{p} at {fmt(addrs[p])}" if addrs else p for p in sorted(waiting))
            raise TransportError(f"{names} did not connect within {total:g} s")
        listener.settimeout(left)
        try:
            sock, remote = listener.accept()
        except TimeoutError:
            continue
        who = f"connection from {remote[0]}:{remote[1]}"
        stream: Stream | None = None
        try:
            sock.settimeout(max(min(deadline - time.monotonic(), 10.0), 0.1))
            stream = open_stream(sock, tls, True, who, time.monotonic() + 10.0)
            peer, sid = greet(role, stream, session, waiting, who, tls)
            stream.who = f"{peer} at {remote[0]}:{remote[1]}"
            return stream, peer, sid
        except BaseException:
            (stream or sock).close()
            raise


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
    stream.send_frame(_hello(session or sid, role, status))
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
