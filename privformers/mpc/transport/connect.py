"""Setting up the three links of a session: TCP, then TLS 1.3 with mutual authentication, then a
handshake that checks roles and the session id (``handshake.py``).

Topology (no cycles of waiting): the dealer listens for the client and the server; the server
listens for the client and connects to the dealer; the client connects to both. Every party
binds its listening socket before connecting anywhere, and every wait ends at a deadline.

On each link the connecting side runs the TLS client and the listening side the TLS server;
each verifies the other's certificate against the session CA and reads the peer's role from it
(``tls.py``). ``tls=None`` means plain TCP (--insecure-transport). A listening party drops any
connection that fails TLS or the handshake and waits on for its real peers until the connect
deadline (``acceptor.py``), so a stray connection cannot end a session.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from privformers.mpc.transport.acceptor import Acceptor
from privformers.mpc.transport.base import CertificateRefused, SessionMismatch, TransportError
from privformers.mpc.transport.frame import MAGIC, VERSION
from privformers.mpc.transport.handshake import (
    BAD_CERT,
    BAD_ROLE,
    BAD_SESSION,
    BAD_VERSION,
    CODE_ROLES,
    HELLO,
    OK,
    REASONS,
    ROLE_CODES,
    Addr,
    fmt,
    hello,
    open_stream,
    read_exact,
)
from privformers.mpc.transport.stream import TLS_ALERT_PREFIX, Stream
from privformers.mpc.transport.tcp import MAX_MESSAGE, TcpChannel
from privformers.mpc.transport.tls import TlsConfig

LISTENS_FOR = {"dealer": ("client", "server"), "server": ("client",), "client": ()}
CONNECTS_TO = {"client": ("server", "dealer"), "server": ("dealer",), "dealer": ()}


def connect_party(role: str, session_id: bytes, addrs: dict[str, Addr], connect_timeout: float = 30.0,
                  io_timeout: float = 60.0, *, tls: TlsConfig | None, max_message: int = MAX_MESSAGE,
                  on_log: Callable[[str], None] | None = None) -> dict[str, TcpChannel]:
    """This party's links to the other two, keyed by peer role; raises TransportError, never hangs.

    max_message: the largest payload a peer may announce per message (see ``TcpChannel``).
    on_log: where a dropped stray connection is reported (default: a line on stderr)."""
    if role not in ROLE_CODES:
        raise ValueError(f"role must be one of {tuple(ROLE_CODES)}, got {role!r}")
    if tls is not None:
        tls.check_role(role)
    deadline = time.monotonic() + connect_timeout
    acceptor = None
    if LISTENS_FOR[role]:
        acceptor = Acceptor(role, listen(role, addrs[role]), session_id, tls, set(LISTENS_FOR[role]), deadline,
                            on_log)
    links: dict[str, TcpChannel] = {}
    try:
        for peer in CONNECTS_TO[role]:
            links[peer] = dial(role, peer, session_id, addrs[peer], deadline, connect_timeout, tls, io_timeout,
                               max_message)
        if acceptor is not None:
            waiting = set(LISTENS_FOR[role])
            while waiting:
                stream, peer, _ = acceptor.next(waiting, connect_timeout, addrs)
                waiting.discard(peer)
                links[peer] = TcpChannel(stream, peer, session_id, io_timeout, fmt(addrs[peer]), max_message)
    except BaseException:
        for link in links.values():
            link.close(flush_timeout=0.5)
        raise
    finally:
        if acceptor is not None:
            acceptor.close()
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
         tls: TlsConfig | None, io_timeout: float = 60.0, max_message: int = MAX_MESSAGE) -> TcpChannel:
    """Connect to a listening peer (retrying until it is up), then TLS and our side of the handshake."""
    who = f"{peer} at {fmt(addr)}"
    sock = _connect_tcp(who, addr, deadline, total)
    stream: Stream | None = None
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        stream = open_stream(sock, tls, False, who, deadline)
        cert_ok = tls is None or stream.peer_role() == peer
        stream.send_frame(hello(session, role, OK if cert_ok else BAD_CERT))
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
        return TcpChannel(stream, peer, session, io_timeout, fmt(addr), max_message)
    except BaseException:
        (stream or sock).close()
        raise
