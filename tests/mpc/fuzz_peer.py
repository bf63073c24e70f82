"""A hostile but fair peer on localhost, for the transport fuzz tests: random and truncated frames
with valid and invalid headers, huge announced lengths, and failed handshakes of every kind.

Deterministic per seed (``random.Random``; this is test input, not secret). Every socket has a
timeout, so a knock never hangs; the fuzzer's own failures are the expected outcome and only counted.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from privformers.mpc.transport.connect import dial
from privformers.mpc.transport.frame import DTYPES, HEADER, MAGIC, VERSION
from privformers.mpc.transport.handshake import hello
from privformers.mpc.transport.tls import TlsConfig

Addr = tuple[str, int]
MiB = 1 << 20
LENGTHS = (0, 1, 8, 1000, MiB - 1, MiB, MiB + 1, 64 * MiB, 1 << 30, 3 << 30, 1 << 32, (1 << 63) - 1, (1 << 64) - 1)
PRE_HANDSHAKE = ("bytes", "http", "silent", "tls-noise", "plain-hello", "foreign-cert", "wrong-session")
AFTER_HANDSHAKE = ("frames", "huge", "big-partial", "silent-authenticated")


def random_frame(rng: random.Random, sid: bytes, seq: int) -> bytes:
    """One frame, mostly well-formed in its header, often not in its length, shape or payload."""
    magic = MAGIC if rng.random() < 0.9 else rng.randbytes(4)
    version = VERSION if rng.random() < 0.9 else rng.randrange(256)
    session = sid if rng.random() < 0.9 else rng.randbytes(16)
    kind = rng.choice((0, 1, 1, 2, 3, rng.randrange(256)))
    code = rng.choice((*DTYPES, 0, rng.randrange(256)))
    ndim = rng.choice((0, 1, 2, 4, 16, 17, 255))
    nbytes = rng.choice(LENGTHS)
    shape = [rng.choice((-1, 0, 1, 3, 1 << 20, 1 << 40)) for _ in range(min(ndim, rng.choice((0, 1, 16))))]
    head = HEADER.pack(magic, version, session, seq, kind, code, ndim, nbytes) + struct.pack(f"!{len(shape)}q", *shape)
    body = rng.randbytes(min(nbytes, rng.choice((0, 7, 4096, 300_000))))
    frame = head + body
    return frame[: rng.randrange(len(frame) + 1)] if rng.random() < 0.3 else frame


@dataclass
class Fuzzer:
    """Knocks on one listener; ``after_handshake`` only where any session id is welcome (a service)."""

    addr: Addr
    listener: str                    # the role listening there: "server" or "dealer"
    pki: dict[str, TlsConfig]        # valid certificates (the fuzzer is a fair peer: it may hold a client's)
    other_pki: dict[str, TlsConfig]  # certificates of another CA
    after_handshake: bool
    counts: Counter = field(default_factory=Counter)
    held: list = field(default_factory=list)       # connections kept open (silent) until the end
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seed: int, count: int, until: float) -> None:
        """count knocks (or until time.monotonic() passes until), with their own Random(seed)."""
        rng = random.Random(seed)
        kinds = PRE_HANDSHAKE + (AFTER_HANDSHAKE if self.after_handshake else ())
        for _ in range(count):
            if time.monotonic() > until:
                return
            kind = rng.choice(kinds)
            try:
                getattr(self, "_" + kind.replace("-", "_"))(rng)
                outcome = "done"
            except Exception as exc:  # noqa: BLE001 - refusals are the expected outcome
                outcome = type(exc).__name__
            with self._lock:
                self.counts[f"{kind}: {outcome}"] += 1

    def close(self) -> None:
        for thing in self.held:
            thing.close()

    # -- before the handshake -------------------------------------------------
    def _connect(self) -> socket.socket:
        s = socket.create_connection(self.addr, timeout=3.0)
        s.settimeout(3.0)
        return s

    def _send_then_drain(self, data: bytes) -> None:
        with self._connect() as s:
            s.sendall(data)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass

    def _bytes(self, rng: random.Random) -> None:
        data = rng.randbytes(rng.choice((1, 7, 23, 64, 1000, 70_000)))
        with self._connect() as s:
            s.sendall(data)         # and close at once, often before the listener has read it

    def _http(self, rng: random.Random) -> None:
        self._send_then_drain(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")

    def _silent(self, rng: random.Random) -> None:
        s = self._connect()
        if rng.random() < 0.3:
            with self._lock:
                self.held.append(s)
            return
        time.sleep(rng.uniform(0, 0.3))
        s.close()

    def _tls_noise(self, rng: random.Random) -> None:
        body = rng.randbytes(rng.randrange(300))
        self._send_then_drain(b"\x16\x03\x01" + struct.pack("!H", rng.randrange(1 << 16)) + body)

    def _plain_hello(self, rng: random.Random) -> None:
        self._send_then_drain(hello(rng.randbytes(16), rng.choice(("client", "server", "dealer"))))

    def _foreign_cert(self, rng: random.Random) -> None:
        dial("client", self.listener, rng.randbytes(16), self.addr, time.monotonic() + 3, 3, self.other_pki["client"])

    def _wrong_session(self, rng: random.Random) -> None:
        """A valid certificate and a session id of our own: a party refuses it, a service accepts it."""
        link = dial("client", self.listener, rng.randbytes(16), self.addr, time.monotonic() + 3, 3, self.pki["client"])
        link.close(flush_timeout=0.5)

    # -- after the handshake (services) ---------------------------------------
    def _link(self, rng: random.Random):
        role = "client" if self.listener == "server" else rng.choice(("client", "server"))
        sid = rng.randbytes(16)
        return dial(role, self.listener, sid, self.addr, time.monotonic() + 3, 3, self.pki[role], 3), sid

    def _after(self, link, data: bytes) -> None:
        """Send raw bytes on an authenticated link, then read what comes back (an abort) and end."""
        try:
            link._stream.send_frame(data)
            link.recv(timeout=1.0)
        finally:
            link._stream.close()

    def _frames(self, rng: random.Random) -> None:
        link, sid = self._link(rng)
        self._after(link, b"".join(random_frame(rng, sid, i if rng.random() < 0.8 else rng.randrange(1 << 64))
                                   for i in range(rng.randint(1, 3))))

    def _huge(self, rng: random.Random) -> None:
        link, sid = self._link(rng)
        kind = rng.choice((0, 1))
        self._after(link, HEADER.pack(MAGIC, VERSION, sid, 0, kind, 1, kind == 0, rng.choice(LENGTHS[7:]))
                    + (struct.pack("!q", 1 << 40) if kind == 0 else b""))

    def _big_partial(self, rng: random.Random) -> None:
        """A request-sized message (1 MiB, the limit before a session starts), cut short."""
        link, sid = self._link(rng)
        head = HEADER.pack(MAGIC, VERSION, sid, 0, 1, 0, 0, MiB)
        link._stream.send_frame(head + rng.randbytes(rng.randrange(MiB)))
        link._stream.close()

    def _silent_authenticated(self, rng: random.Random) -> None:
        link, _ = self._link(rng)
        with self._lock:
            self.held.append(link._stream)
