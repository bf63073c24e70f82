"""Long-running parties that serve many sessions: a base accept loop and the dealer service.

A service listens on one address; each connection gets a thread that runs TLS and the
handshake (``handshake.greet``, which accepts the session id the peer brings), then the
service's session logic. A session id is used once: a second connection for a role a session
already has, or for a finished session, is refused. Sessions end on their own timeouts, so a
client that vanishes costs one thread for at most the I/O timeout and never the service.

What a connection may hold, and for how long (anyone can connect; a session needs a certificate):
- until its first message (a request or a session description, at most ``MAX_DESCRIPTION``
  bytes) it is pending: TLS and the handshake within ``HANDSHAKE_S``, then that message within
  ``request_timeout`` (default ``REQUEST_S``), else it is dropped. At most ``max_pending``
  connections are pending at once; one more ends the oldest pending one. Idle connections,
  authenticated or not, therefore hold no session slot and cannot keep real clients out;
- with its first message it takes one of ``max_sessions`` slots (a dealer's session: one for
  its client and server), refused with a reason when none is free; from then on a message may
  announce up to ``max_message`` bytes (``TcpChannel``) and may take ``io_timeout`` to come.

The dealer service pairs the client's and the server's connection of a session by its id,
checks that both describe the same public session (program, public arguments, precision),
then supplies that session's correlated randomness, freshly drawn, like a dealer process would.
"""

from __future__ import annotations

import ctypes
import json
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from privformers.mpc.party import CLIENT, DEALER, SERVER, Party
from privformers.mpc.programs import get_program
from privformers.mpc.ring import FixedPoint
from privformers.mpc.session import execute
from privformers.mpc.transport.base import TransportError
from privformers.mpc.transport.connect import listen
from privformers.mpc.transport.handshake import BUSY, DUPLICATE, OK, REASONS, Addr, fmt, greet, open_stream
from privformers.mpc.transport.stream import Stream
from privformers.mpc.transport.tcp import MAX_MESSAGE, TcpChannel
from privformers.mpc.transport.tls import TlsConfig

HANDSHAKE_S = 10.0         # a new connection's TLS and handshake
REQUEST_S = 10.0           # then its first message
MAX_PENDING = 64           # connections before their first message, at once
REMEMBERED_SESSIONS = 100_000
MAX_DESCRIPTION = 1 << 20


def log(who: str, text: str) -> None:
    """One line on stderr (no secrets: session ids are truncated, no payloads)."""
    print(f"[{who}] {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def recv_json(link: TcpChannel, what: str, timeout: float | None = None) -> dict:
    """A JSON object sent as one bytes message (timeout: the link's unless given)."""
    raw = link.recv(timeout)
    if not isinstance(raw, bytes) or len(raw) > MAX_DESCRIPTION:
        raise TransportError(f"{link.peer} sent no {what}")
    try:
        obj = json.loads(raw)
    except ValueError:
        raise TransportError(f"{link.peer} sent a malformed {what}") from None
    if not isinstance(obj, dict):
        raise TransportError(f"{link.peer} sent a malformed {what}")
    return obj


def send_json(link: TcpChannel, obj: dict) -> None:
    link.send(json.dumps(obj, sort_keys=True).encode())


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim   # glibc
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Hand memory that is free but kept by the C allocator back to the system (glibc ``malloc_trim``;
    nothing elsewhere). Each session runs in its own thread, and glibc keeps what a thread freed in that
    thread's arena: without this a dealer service's resident memory grew by 140 MB over its first eight
    sessions and stayed there. Cost: proportional to the free memory (about 1 ms per 10 MB freed; 0.6 s
    after 5 GB), paid at the end of a session, in its thread, without the GIL."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class Service:
    """Accept loop with a thread per connection; subclasses implement ``session``."""

    role = "?"
    accepts: tuple[str, ...] = ()

    def __init__(self, addr: Addr, tls: TlsConfig | None, io_timeout: float = 60.0, max_sessions: int = 8,
                 on_log: Callable[[str, str], None] = log, *, request_timeout: float = REQUEST_S,
                 max_pending: int = MAX_PENDING, max_message: int = MAX_MESSAGE) -> None:
        """request_timeout, max_pending, max_message: see the module docstring."""
        if tls is not None:
            tls.check_role(self.role)
        self.tls, self.io_timeout, self.max_sessions, self.log = tls, io_timeout, max_sessions, on_log
        self.request_timeout, self.max_pending, self.max_message = request_timeout, max_pending, max_message
        self._listener = listen(self.role, addr, backlog=64)
        self.address: Addr = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._active: dict[bytes, set[str]] = {}       # session id -> roles connected (pending or not)
        self._running: set[bytes] = set()               # sessions holding a slot
        self._pending: dict[int, socket.socket] = {}    # connection thread -> its socket, oldest first
        self._used: OrderedDict[bytes, None] = OrderedDict()
        self._stop = threading.Event()
        self.sessions_done = self.sessions_failed = 0

    # -- bookkeeping ----------------------------------------------------------
    def _admit(self, peer: str, sid: bytes) -> int:
        """Handshake check: refuse a reused session id or a role the session already has."""
        with self._lock:
            if sid in self._used or peer in self._active.get(sid, ()):
                return DUPLICATE
            self._active.setdefault(sid, set()).add(peer)
            return OK

    def _drop(self, peer: str, sid: bytes) -> None:
        with self._lock:
            roles = self._active.get(sid)
            if roles is not None:
                roles.discard(peer)
                if not roles:
                    del self._active[sid]
                    self._used[sid] = None

    def occupy(self, sid: bytes) -> int:
        """Take a session slot for sid (nothing to do when it has one): OK, BUSY when all are taken,
        DUPLICATE when the session has ended meanwhile (its other party failed)."""
        with self._lock:
            if sid in self._used:
                return DUPLICATE
            if sid not in self._running:
                if len(self._running) >= self.max_sessions:
                    return BUSY
                self._running.add(sid)
            return OK

    def _release(self, sid: bytes) -> None:
        with self._lock:
            self._active.pop(sid, None)
            self._running.discard(sid)
            self._used[sid] = None
            while len(self._used) > REMEMBERED_SESSIONS:
                self._used.popitem(last=False)
        release_free_memory()

    def open_sessions(self) -> int:
        """Session ids with a connection now, pending or holding a slot."""
        with self._lock:
            return len(self._active)

    def _settle(self) -> None:
        """This connection is no longer pending (it sent its first message, or ended)."""
        with self._lock:
            self._pending.pop(threading.get_ident(), None)

    # -- accept loop ----------------------------------------------------------
    def serve_forever(self) -> None:
        """Accept connections until ``stop``."""
        self.log(self.role, f"listening on {fmt(self.address)} "
                            f"({'TLS 1.3, mutual authentication' if self.tls else 'PLAIN TCP, insecure'})")
        self._listener.settimeout(0.5)
        try:
            while not self._stop.is_set():
                try:
                    sock, remote = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    if self._stop.is_set():
                        break
                    self.log(self.role, f"accepting a connection failed ({exc.__class__.__name__}: {exc}); "
                                        "listening on")
                    time.sleep(0.1)   # e.g. out of file descriptors: let connections end first
                    continue
                threading.Thread(target=self._connection, args=(sock, f"{remote[0]}:{remote[1]}"),
                                 name=f"{self.role}-conn", daemon=True).start()
        finally:
            self._listener.close()

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, embedding)."""
        t = threading.Thread(target=self.serve_forever, name=f"{self.role}-service", daemon=True)
        t.start()
        return t

    def stop(self) -> None:
        self._stop.set()

    def _connection(self, sock: socket.socket, remote: str) -> None:
        torch.set_num_threads(1)
        with self._lock:
            full = len(self._pending) >= self.max_pending
            oldest = next(iter(self._pending.values())) if full else None
            self._pending[threading.get_ident()] = sock
        if oldest is not None:
            try:
                oldest.shutdown(socket.SHUT_RDWR)   # its thread fails at once and logs it
            except OSError:
                pass
        try:
            self._handshake_and_session(sock, remote)
        finally:
            self._settle()

    def _handshake_and_session(self, sock: socket.socket, remote: str) -> None:
        who = f"connection from {remote}"
        stream: Stream | None = None
        admitted: list[tuple[str, bytes]] = []

        def check(peer: str, sid: bytes) -> int:
            status = self._admit(peer, sid)
            if status == OK:
                admitted.append((peer, sid))
            return status

        try:
            sock.settimeout(HANDSHAKE_S)
            stream = open_stream(sock, self.tls, True, who, time.monotonic() + HANDSHAKE_S)
            stream.settimeout(HANDSHAKE_S)
            peer, sid = greet(self.role, stream, None, set(self.accepts), who, self.tls, check=check)
        except Exception as exc:  # noqa: BLE001 - a stranger's connection must never end the service
            detail = str(exc) if isinstance(exc, TransportError) else f"{who} failed ({exc.__class__.__name__})"
            self.log(self.role, f"refused {who}: {detail}")
            (stream or sock).close()
            for peer, sid in admitted:        # admitted, then the handshake failed: forget the role
                self._drop(peer, sid)
            return
        stream.who = f"{peer} at {remote}"
        link = TcpChannel(stream, peer, sid, self.io_timeout, remote, MAX_DESCRIPTION)
        self.session(link, sid, remote)

    def opening(self, link: TcpChannel, what: str) -> dict:
        """A new connection's first message, a JSON object of at most MAX_DESCRIPTION bytes, within
        request_timeout; afterwards the link takes messages up to max_message bytes."""
        try:
            return recv_json(link, what, self.request_timeout)
        finally:
            self._settle()
            link.max_message = self.max_message

    def session(self, link: TcpChannel, sid: bytes, remote: str) -> None:
        """Run (or join) the session that link belongs to: its first message through ``opening``,
        then ``occupy`` a slot; must end with ``_release`` of sid."""
        raise NotImplementedError


@dataclass
class _Pairing:
    """The dealer's half-met session: the links and descriptions that have arrived."""

    links: dict[str, TcpChannel] = field(default_factory=dict)
    descriptions: dict[str, dict] = field(default_factory=dict)
    met: threading.Event = field(default_factory=threading.Event)


class DealerService(Service):
    """``privformers dealer --listen``: correlated randomness for any number of sessions."""

    role, accepts = DEALER, (CLIENT, SERVER)

    def __init__(self, addr: Addr, tls: TlsConfig | None, io_timeout: float = 60.0, max_sessions: int = 8,
                 pair_timeout: float = 60.0, on_log: Callable[[str, str], None] = log, **limits: int | float) -> None:
        """limits: request_timeout, max_pending, max_message (see ``Service``)."""
        super().__init__(addr, tls, io_timeout, max_sessions, on_log, **limits)
        self.pair_timeout = pair_timeout
        self._pairs: dict[bytes, _Pairing] = {}

    def session(self, link: TcpChannel, sid: bytes, remote: str) -> None:
        tag = f"session {sid.hex()[:12]}"
        try:
            desc = self.opening(link, "session description")
        except TransportError as exc:
            self.log(self.role, f"{tag}: {link.peer} at {remote} failed: {exc}")
            link.abort(f"the dealer refused: {exc}")
            self._give_up(sid, f"the {link.peer} of this session failed to describe it")
            return
        status = self.occupy(sid)
        if status != OK:
            self.log(self.role, f"{tag}: {link.peer} at {remote} refused: {REASONS[status]}")
            link.abort(f"the dealer refused: {REASONS[status]}")
            self._give_up(sid, f"the dealer refused this session: {REASONS[status]}")
            return
        with self._lock:
            pairing = self._pairs.setdefault(sid, _Pairing())
            pairing.links[link.peer], pairing.descriptions[link.peer] = link, desc
            complete = len(pairing.links) == 2
            if complete:
                del self._pairs[sid]
        if complete:
            pairing.met.set()
            self._run(pairing, sid, tag)
        elif not pairing.met.wait(self.pair_timeout):
            other = SERVER if link.peer == CLIENT else CLIENT
            if self._give_up(sid, f"the {other} of this session did not reach the dealer within "
                                  f"{self.pair_timeout:g} s", only=pairing):
                self.log(self.role, f"{tag}: the {other} did not come within {self.pair_timeout:g} s")

    def _give_up(self, sid: bytes, reason: str, only: _Pairing | None = None) -> bool:
        """End a half-met session: abort the links that came and mark the id used.

        only: give up only if this pairing is still the pending one (it may have just met)."""
        with self._lock:
            pairing = self._pairs.get(sid)
            if only is not None and pairing is not only:
                return False
            self._pairs.pop(sid, None)
        self._release(sid)
        for link in (pairing.links.values() if pairing else ()):
            link.abort(reason)
        if pairing is not None:
            pairing.met.set()
        return True

    def _run(self, pairing: _Pairing, sid: bytes, tag: str) -> None:
        links, descs = pairing.links, pairing.descriptions
        t0 = time.perf_counter()
        try:
            if descs[CLIENT] != descs[SERVER]:
                raise TransportError("the client and the server describe different sessions (program, public "
                                     "arguments or precision differ)")
            desc = descs[CLIENT]
            args = desc.get("args", {})
            if not isinstance(args, dict) or "model" in args:
                raise TransportError("the dealer takes a model's architecture (hf_config), never a path")
            program = get_program(str(desc.get("program")))
            built = program.build(args)
            party = Party(DEALER, dict(links), FixedPoint(int(desc.get("frac_bits", 16))))
            party.handshake()
            execute(party, built)
        except BaseException as exc:  # noqa: BLE001 - a failed session must never end the service
            self.sessions_failed += 1
            detail = str(exc) if isinstance(exc, TransportError | KeyError | ValueError) else type(exc).__name__
            self.log(self.role, f"{tag}: failed: {detail}")
            for link in links.values():
                link.abort(f"the dealer stopped ({detail})", flush_timeout=0.5)
            self._release(sid)
            return
        party.close()
        self._release(sid)
        self.sessions_done += 1
        meter = party.meter.summary()
        sent = meter.get("setup_bytes", 0) + meter.get("offline_bytes", 0)
        self.log(self.role, f"{tag}: {desc.get('program')}: material sent ({sent} bytes) in "
                            f"{time.perf_counter() - t0:.2f} s")
