"""The byte stream under a link: plain TCP here, TLS in ``tls.py``; both cost one syscall per frame.

A stream sends whole frames (header and payload in one ``sendmsg``, or one TLS write) and reads
into caller buffers through a small receive buffer, so a small frame costs one ``recv``, not three.
``send_frame`` is called by one sender thread while one reader calls ``recv_into``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Protocol

SOCKET_BUFFER = 4 << 20
READ_BUFFER = 64 << 10
TLS_ALERT_PREFIX = b"\x15\x03"       # a TLS alert record: the peer speaks TLS and we do not
TLS_HANDSHAKE_PREFIX = b"\x16\x03"   # a TLS handshake record (ClientHello)


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY (protocol rounds are latency-bound) and large kernel buffers."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)


class Stream(Protocol):
    """A connected, ordered byte stream to one peer."""

    encrypted: bool
    on_output: Callable[[], None] | None
    who: str          # the peer, for error messages

    def send_frame(self, head: bytes, payload: memoryview | bytes | None = None) -> None:
        """Write head and payload completely (blocking; socket timeouts are retried)."""
        ...

    def recv_into(self, view: memoryview) -> int:
        """Read up to len(view) bytes; 0 at the peer's orderly end; TimeoutError if nothing arrived."""
        ...

    def flush(self) -> None:
        """Send whatever the stream itself produced while reading (TLS control records)."""
        ...

    def settimeout(self, seconds: float | None) -> None:
        ...

    def close(self) -> None:
        ...


class PlainStream:
    """Unencrypted TCP (only behind --insecure-transport on the command line)."""

    encrypted = False

    def __init__(self, sock: socket.socket, who: str = "peer") -> None:
        tune(sock)
        self.sock, self.who = sock, who
        self.on_output: Callable[[], None] | None = None
        self._buf = memoryview(bytearray(READ_BUFFER))
        self._pos = self._end = 0

    def send_frame(self, head: bytes, payload: memoryview | bytes | None = None) -> None:
        parts = [memoryview(head)]
        if payload is not None and len(payload):
            parts.append(memoryview(payload).cast("B"))
        while parts:
            try:
                n = self.sock.sendmsg(parts)
            except TimeoutError:
                continue
            while n:
                if n >= parts[0].nbytes:
                    n -= parts.pop(0).nbytes
                else:
                    parts[0], n = parts[0][n:], 0

    def recv_into(self, view: memoryview) -> int:
        if self._pos < self._end:
            n = min(len(view), self._end - self._pos)
            view[:n] = self._buf[self._pos:self._pos + n]
            self._pos += n
            return n
        if len(view) >= READ_BUFFER:
            return self.sock.recv_into(view)
        k = self.sock.recv_into(self._buf)
        n = min(k, len(view))
        view[:n] = self._buf[:n]
        self._pos, self._end = n, k
        return n

    def flush(self) -> None:
        pass

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
