"""A party's listening port during the connect phase, where strangers may knock first.

The port is visible to anyone on the host (``ps`` shows it), so anything may connect to it
before, or instead of, the expected peer: a port scanner, an HTTP client, garbage bytes, a
socket that says nothing, a peer of another session. Each connection gets its own thread that
runs TLS and the handshake (``handshake.greet``) within ``HANDSHAKE_S`` (and the connect
deadline); one that fails is closed with a line on stderr, and the listener keeps waiting for
the expected peers until the connect deadline. A silent connection costs a thread until its
handshake deadline, never the real peer's turn: handshakes run concurrently.

A real peer that is refused (wrong session, certificate or role) learns why at once, on its
side, from the handshake. This side cannot tell it from a hostile connection, so it waits on;
at the deadline its error names the missing peers and the most telling refusal, and has that
refusal's class (``SessionMismatch``, ``CertificateRefused``, ...).

Cost: an accept thread, and a thread per connection in handshake, at most ``MAX_HANDSHAKES``
at once: a new connection beyond that ends the oldest handshake still in progress (so sockets
left silent cannot keep the real peer out; they only make each other's turns shorter).
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
from collections.abc import Callable

from privformers.mpc.transport.base import (
    CertificateRefused,
    PeerDisconnected,
    PeerTimeout,
    SessionMismatch,
    TlsError,
    TransportError,
)
from privformers.mpc.transport.handshake import BAD_ROLE, OK, Addr, fmt, greet, open_stream
from privformers.mpc.transport.stream import Stream
from privformers.mpc.transport.tls import TlsConfig

HANDSHAKE_S = 10.0     # a connection must complete TLS and the handshake within this
MAX_HANDSHAKES = 32    # connections in handshake at once; a new one beyond this ends the oldest
ACCEPT_POLL_S = 0.5

Accepted = tuple[Stream, str, bytes]


def telling(exc: TransportError) -> int:
    """How much a refusal says about a misconfigured real peer: a session or certificate mismatch
    most, then a handshake refused for its content, least a connection that never spoke our protocol."""
    if isinstance(exc, SessionMismatch | CertificateRefused):
        return 2
    return 0 if isinstance(exc, TlsError | PeerDisconnected | PeerTimeout) else 1


class Acceptor:
    """Accepts the expected peers of one session on a listening socket (which it closes in ``close``)."""

    def __init__(self, role: str, listener: socket.socket, session: bytes, tls: TlsConfig | None,
                 expected: set[str], deadline: float, on_log: Callable[[str], None] | None = None) -> None:
        """deadline: time.monotonic() after which no handshake is started or finished.
        on_log: where a dropped connection is reported (default: a line on stderr)."""
        self.role, self._listener, self._session, self._tls = role, listener, session, tls
        self._wanted = set(expected)          # roles no handshake has claimed yet
        self._deadline = deadline
        self._log = on_log or (lambda text: print(f"[{role}] {text}", file=sys.stderr, flush=True))
        self._lock = threading.Lock()
        self._ready: queue.SimpleQueue[Accepted] = queue.SimpleQueue()
        self._in_handshake: dict[socket.socket, None] = {}   # oldest first
        self._closed = False
        self.refused = 0
        self._refusal: TransportError | None = None
        self._thread = threading.Thread(target=self._accept_loop, name=f"accept-{role}", daemon=True)
        self._thread.start()

    def next(self, waiting: set[str], total: float, addrs: dict[str, Addr] | None = None) -> Accepted:
        """The next peer that completed its handshake: (stream, role, session id).

        Raises TransportError at the deadline, naming the peers in waiting and the most telling refusal."""
        while True:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise self._missing(waiting, total, addrs)
            try:
                return self._ready.get(timeout=left)
            except queue.Empty:
                continue

    def close(self) -> None:
        """Stop accepting, end the handshakes in progress, close the listener and any unclaimed peer."""
        with self._lock:
            self._closed = True
            pending = list(self._in_handshake)
        for sock in [self._listener, *pending]:
            _shut(sock)
        self._thread.join(ACCEPT_POLL_S + 1.0)
        self._listener.close()
        while True:
            try:
                stream = self._ready.get_nowait()[0]
            except queue.Empty:
                return
            stream.close()

    # -- threads --------------------------------------------------------------
    def _accept_loop(self) -> None:
        self._listener.settimeout(ACCEPT_POLL_S)
        while not self._closed:
            try:
                sock, remote = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._closed:
                    return
                self._log(f"accepting a connection failed ({exc.__class__.__name__}: {exc}); listening on")
                time.sleep(0.1)   # e.g. out of file descriptors: let the handshakes in progress end
                continue
            who = f"connection from {remote[0]}:{remote[1]}"
            with self._lock:
                if self._closed:
                    sock.close()
                    return
                oldest = next(iter(self._in_handshake)) if len(self._in_handshake) >= MAX_HANDSHAKES else None
                self._in_handshake[sock] = None
            if oldest is not None:
                _shut(oldest)     # its handshake thread fails at once and reports it
            threading.Thread(target=self._handshake, args=(sock, remote, who), name=f"handshake-{self.role}",
                             daemon=True).start()

    def _handshake(self, sock: socket.socket, remote: tuple, who: str) -> None:
        stream: Stream | None = None
        claimed: list[str] = []

        def claim(peer: str, _sid: bytes) -> int:
            with self._lock:
                if peer not in self._wanted:
                    return BAD_ROLE        # another connection took the role meanwhile
                self._wanted.discard(peer)
                claimed.append(peer)
                return OK

        try:
            until = min(time.monotonic() + HANDSHAKE_S, self._deadline)
            sock.settimeout(max(until - time.monotonic(), 0.1))
            stream = open_stream(sock, self._tls, True, who, until)
            stream.settimeout(max(until - time.monotonic(), 0.1))
            peer, sid = greet(self.role, stream, self._session, self._wanted, who, self._tls, check=claim)
            stream.who = f"{peer} at {remote[0]}:{remote[1]}"
        except Exception as exc:  # noqa: BLE001 - whatever a stranger does ends only its own connection
            (stream or sock).close()
            with self._lock:
                self._wanted.update(claimed)
                self._in_handshake.pop(sock, None)
            self._note_refusal(exc, who)
            return
        with self._lock:
            self._in_handshake.pop(sock, None)
            if not self._closed:
                self._ready.put((stream, peer, sid))
                return
        stream.close()

    def _note_refusal(self, exc: Exception, who: str) -> None:
        if not isinstance(exc, TransportError):
            exc = TransportError(f"{who} failed during the handshake ({exc.__class__.__name__})")
        exc.__traceback__ = exc.__context__ = None   # kept for the deadline error: not the connection's buffers
        with self._lock:
            if self._closed:
                return
            self.refused += 1
            if self._refusal is None or telling(exc) >= telling(self._refusal):
                self._refusal = exc
            waiting = sorted(self._wanted)
        self._log(f"dropped a connection: {exc}" + (f"; still waiting for the {' and '.join(waiting)}"
                                                    if waiting else ""))

    def _missing(self, waiting: set[str], total: float, addrs: dict[str, Addr] | None) -> TransportError:
        names = " and ".join(f"{p} at {fmt(addrs[p])}" if addrs else p for p in sorted(waiting))
        text = f"{names} did not connect within {total:g} s"
        with self._lock:
            refusal, n = self._refusal, self.refused
        if refusal is None:
            return TransportError(text)
        many = f"refused {n} connections meanwhile, the most telling: " if n > 1 else "refused a connection: "
        return type(refusal)(f"{text}; {many}{refusal}")


def _shut(sock: socket.socket) -> None:
    """Shut a socket down (wakes a thread blocked in accept or recv on it at once); its owner closes it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
