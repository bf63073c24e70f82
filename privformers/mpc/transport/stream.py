"""The byte stream under a link: plain TCP here, TLS in ``tls.py``.

A frame is written with one ``writev`` (plain: header and payload gathered; TLS: one encrypted
write), straight from the sending thread when the link is idle and the kernel takes it all,
so a small message costs one syscall and no thread hand-off. Reads go through a receive
buffer, so a small frame costs one ``recv``, not one per header, shape and payload.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Callable
from typing import Protocol

SOCKET_BUFFER = 4 << 20
READ_BUFFER = 64 << 10
TLS_ALERT_PREFIX = b"\x15\x03"       # a TLS alert record: the peer speaks TLS and we do not
TLS_HANDSHAKE_PREFIX = b"\x16\x03"   # a TLS handshake record (ClientHello)
WAIT_S = 1.0

Parts = list[memoryview]


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY (protocol rounds are latency-bound) and large kernel buffers."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)


def write_nowait(sock: socket.socket, parts: Parts) -> Parts:
    """Write as much of parts as the kernel takes now (the socket is non-blocking); what is left."""
    fd = sock.fileno()
    while parts:
        try:
            n = os.writev(fd, parts)
        except (BlockingIOError, InterruptedError):
            return parts
        while n:
            if n >= parts[0].nbytes:
                n -= parts.pop(0).nbytes
            else:
                parts[0], n = parts[0][n:], 0
    return parts


def write_all(sock: socket.socket, parts: Parts) -> None:
    """Write everything; a slow reader only delays us (waiting for room is not an error)."""
    poller = None
    while True:
        parts = write_nowait(sock, parts)
        if not parts:
            return
        if poller is None:
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLOUT)
        poller.poll(WAIT_S * 1000)


def frame_parts(head: bytes, payload: memoryview | bytes | None) -> Parts:
    parts = [memoryview(head)]
    if payload is not None and len(payload):
        parts.append(memoryview(payload).cast("B"))
    return parts


class Stream(Protocol):
    """A connected, ordered byte stream to one peer (its socket non-blocking, with a timeout)."""

    encrypted: bool
    sock: socket.socket
    who: str                                   # the peer, for error messages
    on_output: Callable[[], None] | None       # called when reading produced bytes to send

    def encode(self, head: bytes, payload: memoryview | bytes | None) -> Parts:
        """The bytes that carry a (small) frame on the wire, ready for ``write_nowait``."""
        ...

    def send_frame(self, head: bytes, payload: memoryview | bytes | None = None) -> None:
        """Write a frame of any size completely (blocking)."""
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


class Buffered:
    """Reads through a buffer: a frame's header, shape and small payload cost one raw read."""

    def _init_buffer(self) -> None:
        self._buf = memoryview(bytearray(READ_BUFFER))
        self._pos = self._end = 0

    def _read_raw(self, view: memoryview) -> int:
        raise NotImplementedError

    def recv_into(self, view: memoryview) -> int:
        if self._pos < self._end:
            n = min(len(view), self._end - self._pos)
            view[:n] = self._buf[self._pos:self._pos + n]
            self._pos += n
            return n
        if len(view) >= READ_BUFFER:
            return self._read_raw(view)
        k = self._read_raw(self._buf)
        n = min(k, len(view))
        view[:n] = self._buf[:n]
        self._pos, self._end = n, k
        return n


class PlainStream(Buffered):
    """Unencrypted TCP (only behind --insecure-transport on the command line)."""

    encrypted = False

    def __init__(self, sock: socket.socket, who: str = "peer") -> None:
        tune(sock)
        self.sock, self.who = sock, who
        self.on_output: Callable[[], None] | None = None
        self._init_buffer()

    def _read_raw(self, view: memoryview) -> int:
        return self.sock.recv_into(view)

    def encode(self, head: bytes, payload: memoryview | bytes | None) -> Parts:
        return frame_parts(head, payload)

    def send_frame(self, head: bytes, payload: memoryview | bytes | None = None) -> None:
        write_all(self.sock, frame_parts(head, payload))

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
