"""Setting up the three TCP links of a session, with a handshake that checks roles and session.

Topology (no cycles of waiting): the dealer listens for the client and the server; the server
listens for the client and connects to the dealer; the client connects to both. Every party
binds its listening socket before connecting anywhere, and every wait ends at a deadline.

Handshake on each link: the connecting side sends HELLO(role, session); the listening side
checks it and answers HELLO(its role, status); the connecting side checks that answer and
sends one status byte. A wrong session or role is reported on both sides.
"""

from __future__ import annotations

import socket
import struct
import time

from privformers.mpc.transport.base import SessionMismatch, TransportError
from privformers.mpc.transport.frame import MAGIC, VERSION
from privformers.mpc.transport.tcp import TcpChannel, tune

HELLO = struct.Struct("!4sB16sBB")
ROLE_CODES = {"client": 1, "server": 2, "dealer": 3}
CODE_ROLES = {v: k for k, v in ROLE_CODES.items()}
OK, BAD_SESSION, BAD_ROLE, BAD_VERSION = 0, 1, 2, 3
REASONS = {BAD_SESSION: "session id differs", BAD_ROLE: "unexpected role",
           BAD_VERSION: "protocol version differs"}
LISTENS_FOR = {"dealer": ("client", "server"), "server": ("client",), "client": ()}
CONNECTS_TO = {"client": ("server", "dealer"), "server": ("dealer",), "dealer": ()}

Addr = tuple[str, int]


def fmt(addr: Addr) -> str:
    return f"{addr[0]}:{addr[1]}"


def connect_party(role: str, session_id: bytes, addrs: dict[str, Addr], connect_timeout: float = 30.0,
                  io_timeout: float = 60.0) -> dict[str, TcpChannel]:
    """This party's links to the other two, keyed by peer role; raises TransportError, never hangs."""
    if role not in ROLE_CODES:
        raise ValueError(f"role must be one of {tuple(ROLE_CODES)}, got {role!r}")
    deadline = time.monotonic() + connect_timeout
    listener = _listen(role, addrs[role]) if LISTENS_FOR[role] else None
    links: dict[str, TcpChannel] = {}
    try:
        for peer in CONNECTS_TO[role]:
            sock = _dial(role, peer, session_id, addrs[peer], deadline, connect_timeout)
            links[peer] = TcpChannel(sock, peer, session_id, io_timeout, fmt(addrs[peer]))
        if listener is not None:
            for peer, sock in _accept(role, listener, session_id, addrs, deadline, connect_timeout).items():
                links[peer] = TcpChannel(sock, peer, session_id, io_timeout, fmt(addrs[peer]))
    except BaseException:
        for link in links.values():
            link.close(flush_timeout=0.5)
        raise
    finally:
        if listener is not None:
            listener.close()
    return links


def _listen(role: str, addr: Addr) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise TransportError(f"{role} cannot listen on {fmt(addr)}: {exc}") from None
    sock.listen(8)
    return sock


def _hello(session: bytes, role: str, status: int = OK) -> bytes:
    return HELLO.pack(MAGIC, VERSION, session, ROLE_CODES[role], status)


def _read_exact(sock: socket.socket, n: int, who: str) -> bytes:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except TimeoutError:
            raise TransportError(f"{who} did not complete the handshake in time") from None
        if not chunk:
            raise TransportError(f"{who} closed the connection during the handshake")
        data += chunk
    return data


def _dial(role: str, peer: str, session: bytes, addr: Addr, deadline: float, total: float) -> socket.socket:
    """Connect to a listening peer (retrying until it is up), then run our side of the handshake."""
    who = f"{peer} at {fmt(addr)}"
    last: OSError | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError(f"could not reach {who} within {total:g} s ({last})")
        try:
            sock = socket.create_connection(addr, timeout=min(left, 2.0))
            break
        except OSError as exc:
            last = exc
            time.sleep(min(0.1, max(left, 0)))
    try:
        tune(sock)
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        sock.sendall(_hello(session, role))
        magic, version, sid, code, status = HELLO.unpack(_read_exact(sock, HELLO.size, who))
        if status != OK:
            raise (SessionMismatch if status == BAD_SESSION else TransportError)(
                f"{who} refused the handshake: {REASONS.get(status, status)}")
        mine = OK
        if magic != MAGIC or version != VERSION:
            mine = BAD_VERSION
        elif sid != session:
            mine = BAD_SESSION
        elif CODE_ROLES.get(code) != peer:
            mine = BAD_ROLE
        sock.sendall(bytes([mine]))
        if mine == BAD_SESSION:
            raise SessionMismatch(f"{who} answered for session {sid.hex()[:12]}..., "
                                  f"ours is {session.hex()[:12]}...")
        if mine != OK:
            raise TransportError(f"{who} answered as {CODE_ROLES.get(code, code)!r} ({REASONS[mine]})")
        return sock
    except BaseException:
        sock.close()
        raise


def _accept(role: str, listener: socket.socket, session: bytes, addrs: dict[str, Addr], deadline: float,
            total: float) -> dict[str, socket.socket]:
    """Accept the expected peers (any order), running the listening side of the handshake."""
    waiting = set(LISTENS_FOR[role])
    got: dict[str, socket.socket] = {}
    try:
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                names = " and ".join(f"{p} at {fmt(addrs[p])}" for p in sorted(waiting))
                raise TransportError(f"{names} did not connect within {total:g} s")
            listener.settimeout(left)
            try:
                sock, remote = listener.accept()
            except TimeoutError:
                continue
            try:
                who = f"connection from {remote[0]}:{remote[1]}"
                peer = _greet(role, sock, session, waiting, who, deadline)
            except BaseException:
                sock.close()
                raise
            waiting.discard(peer)
            got[peer] = sock
        return got
    except BaseException:
        for sock in got.values():
            sock.close()
        raise


def _greet(role: str, sock: socket.socket, session: bytes, waiting: set[str], who: str,
           deadline: float) -> str:
    """The listening side of the handshake; returns the peer's role."""
    tune(sock)
    sock.settimeout(max(min(deadline - time.monotonic(), 10.0), 0.1))
    magic, version, sid, code, _ = HELLO.unpack(_read_exact(sock, HELLO.size, who))
    peer = CODE_ROLES.get(code, f"role #{code}")
    status = OK
    if magic != MAGIC or version != VERSION:
        status = BAD_VERSION
    elif sid != session:
        status = BAD_SESSION
    elif peer not in waiting:
        status = BAD_ROLE
    sock.sendall(_hello(session, role, status))
    if status == BAD_SESSION:
        raise SessionMismatch(f"{peer} ({who}) belongs to session {sid.hex()[:12]}..., ours is "
                              f"{session.hex()[:12]}...: refused")
    if status != OK:
        raise TransportError(f"{who} claims to be {peer!r}, but {role} expects {sorted(waiting)} "
                             f"({REASONS[status]})")
    ack = _read_exact(sock, 1, f"{peer} ({who})")[0]
    if ack != OK:
        raise (SessionMismatch if ack == BAD_SESSION else TransportError)(
            f"{peer} ({who}) refused our handshake: {REASONS.get(ack, ack)}")
    return peer
