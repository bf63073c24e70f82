"""Links over TCP between party processes, possibly on different hosts.

``send`` hands the frame to a sender thread, so two parties that both send large messages
before receiving never deadlock. ``recv`` waits at most ``timeout`` seconds for the peer.
Frames are checked for session id and sequence number; see ``frame.py`` for the format.
"""

from __future__ import annotations

import queue
import select
import socket
import struct
import threading

import torch

from privformers.mpc.transport.base import (
    Message,
    PeerDisconnected,
    PeerTimeout,
    TransportError,
    payload_nbytes,
)
from privformers.mpc.transport.frame import (
    DTYPES,
    HEADER,
    KIND_BYTES,
    KIND_CLOSE,
    check_tensor_size,
    encode_header,
    parse_header,
    tensor_frame,
)

SOCKET_BUFFER = 4 << 20
MAX_MESSAGE = 4 << 30   # refuse larger frames before allocating for them
INLINE_LIMIT = 64 << 10  # frames up to this size are written from the caller's thread
READ_AHEAD = 64 << 10
_STOP = object()


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY (protocol rounds are latency-bound) and large kernel buffers."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)


class TcpChannel:
    """One end of a TCP link to a peer, after the handshake (see ``connect.py``)."""

    def __init__(self, sock: socket.socket, peer: str, session: bytes, timeout: float = 60.0,
                 where: str = "") -> None:
        if len(session) != 16:
            raise ValueError("session id must be 16 bytes")
        self.peer, self._sock, self._session, self._timeout = peer, sock, session, timeout
        self._where = f" at {where}" if where else ""
        self._send_seq = self._recv_seq = 0
        self._queue: queue.Queue = queue.Queue()
        self._send_lock = threading.Lock()
        self._queued = 0                      # frames handed to the sender thread, not yet written
        self._chunk = bytearray(READ_AHEAD)
        self._ahead: bytearray = bytearray()  # bytes read but not yet consumed
        self._ahead_pos = 0
        self._error: TransportError | None = None
        self._closed = False
        self._peer_closed = False
        sock.settimeout(min(timeout, 1.0))
        tune(sock)
        self._sender = threading.Thread(target=self._send_loop, name=f"send-{peer}", daemon=True)
        self._sender.start()

    # -- sending --------------------------------------------------------------
    def send(self, msg: Message) -> int:
        """Send msg to the peer without waiting for it to read; returns the payload bytes.

        A small frame (the common case: one protocol round) goes out at once from this thread in
        one write: handing it to the sender thread costs a thread wake-up per round, 20x the
        socket's own latency here. Large frames, and any frame while earlier ones are still
        queued, go through the sender thread, so two parties sending big messages to each other
        at the same time never deadlock on full kernel buffers.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            raise TransportError(f"link to {self.peer} is closed")
        if isinstance(msg, torch.Tensor):
            head, payload = tensor_frame(self._session, self._send_seq, msg)
        elif isinstance(msg, bytes | bytearray | memoryview):
            payload = memoryview(bytes(msg))
            head = encode_header(self._session, self._send_seq, KIND_BYTES, 0, (), len(payload))
        else:
            raise TypeError(f"can send tensors or bytes, not {type(msg).__name__}")
        self._send_seq += 1
        with self._send_lock:
            if not self._queued and len(payload) <= INLINE_LIMIT:
                try:
                    self._send_all(head + payload.tobytes())
                except PeerTimeout as exc:
                    self._error = exc
                    raise
                except OSError as exc:
                    self._error = self._send_error(exc)
                    raise self._error from None
                return payload_nbytes(msg)
            self._queued += 1
        self._queue.put((head, payload))
        return payload_nbytes(msg)

    def _send_error(self, exc: OSError) -> PeerDisconnected:
        return PeerDisconnected(f"{self.peer}{self._where} disconnected while we were sending "
                                f"({exc.__class__.__name__}: {exc})")

    def _send_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                with self._send_lock:
                    for part in item:
                        self._send_all(part)
                    self._queued -= 1
            except PeerTimeout as exc:
                self._error = exc
                return
            except OSError as exc:
                self._error = self._send_error(exc)
                return

    def _send_all(self, data: bytes | memoryview) -> None:
        """Write everything; a slow reader delays us, one that reads nothing for ``timeout`` s is an error."""
        view = memoryview(data).cast("B")
        waited = 0.0
        while view.nbytes:
            try:
                n = self._sock.send(view)
            except TimeoutError:
                waited += self._sock.gettimeout() or 0.0
                if waited >= self._timeout:
                    raise PeerTimeout(f"{self.peer}{self._where} read nothing for {self._timeout:g} s") from None
                continue
            view, waited = view[n:], 0.0

    # -- receiving ------------------------------------------------------------
    def recv(self) -> Message:
        """The next message; PeerTimeout after ``timeout`` s of silence, PeerDisconnected on EOF."""
        if self._peer_closed:
            raise PeerDisconnected(f"{self.peer}{self._where} closed the link")
        seq, kind, code, ndim, nbytes = parse_header(self._read(HEADER.size), self._session, self.peer)
        if seq != self._recv_seq:
            raise TransportError(f"{self.peer} sent message #{seq}, expected #{self._recv_seq}: "
                                 "messages lost or replayed")
        self._recv_seq += 1
        shape = struct.unpack(f"!{ndim}q", self._read(8 * ndim)) if ndim else ()
        if kind == KIND_CLOSE:
            self._peer_closed = True
            raise PeerDisconnected(f"{self.peer}{self._where} closed the link")
        if kind == KIND_BYTES:
            if nbytes > MAX_MESSAGE:
                raise TransportError(f"{self.peer} sent a {nbytes}-byte message, over the limit")
            return bytes(self._read(nbytes))
        check_tensor_size(self.peer, code, shape, nbytes, MAX_MESSAGE)
        if nbytes == 0:
            return torch.empty(shape, dtype=DTYPES[code])
        buf = self._read(nbytes)
        return torch.frombuffer(buf, dtype=DTYPES[code]).reshape(shape)

    def _read(self, n: int) -> bytearray:
        """Exactly n bytes from the peer, through a read-ahead buffer (one syscall per small frame)."""
        buf = bytearray(n)
        have = min(n, len(self._ahead) - self._ahead_pos)
        if have:
            buf[:have] = self._ahead[self._ahead_pos:self._ahead_pos + have]
            self._ahead_pos += have
        if have == n:
            return buf
        if n - have < READ_AHEAD:
            # refill the read-ahead buffer: whatever the peer has sent, up to READ_AHEAD bytes
            while have < n:
                k = self._recv_into(memoryview(self._chunk), READ_AHEAD)
                take = min(k, n - have)
                buf[have:have + take] = self._chunk[:take]
                have += take
                self._ahead, self._ahead_pos = self._chunk[:k], take
            return buf
        view = memoryview(buf)
        while have < n:
            have += self._recv_into(view[have:], min(n - have, 1 << 24))
        return buf

    def _recv_into(self, view: memoryview, limit: int) -> int:
        """One recv into view (at most limit bytes), with timeout and disconnect handling."""
        waited = 0.0
        while True:
            try:
                k = self._sock.recv_into(view, limit)
            except TimeoutError:
                waited += self._sock.gettimeout() or 0.0
                if self._error is not None:
                    raise self._error from None
                if waited >= self._timeout:
                    raise PeerTimeout(f"{self.peer}{self._where} sent nothing for "
                                      f"{self._timeout:g} s") from None
                continue
            except OSError as exc:
                raise PeerDisconnected(f"{self.peer}{self._where} disconnected "
                                       f"({exc.__class__.__name__}: {exc})") from None
            if k == 0:
                raise PeerDisconnected(f"{self.peer}{self._where} disconnected (connection closed)")
            return k

    def vanished(self) -> str | None:
        """Why the peer is gone, checked without reading: the link ended (EOF or reset) with nothing
        left to read, or sending failed; None while it may still be alive. A peer that closes normally
        sends a close frame first, which stays unread here, so it never counts as vanished."""
        if self._closed or self._peer_closed:
            return None
        if self._error is not None:
            return str(self._error)
        if len(self._ahead) > self._ahead_pos:
            return None   # frames already read ahead (perhaps its close frame) are still unconsumed
        try:
            if not select.select([self._sock], [], [], 0)[0]:
                return None
            data = self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, TimeoutError, InterruptedError):
            return None   # our reader took the bytes first: the peer is alive
        except (OSError, ValueError) as exc:
            if self._closed:
                return None
            return f"{self.peer}{self._where} disconnected ({exc.__class__.__name__}: {exc})"
        return None if data else f"{self.peer}{self._where} disconnected (connection closed)"

    # -- closing --------------------------------------------------------------
    def close(self, flush_timeout: float | None = None) -> None:
        """Send everything queued and a close frame (bounded wait), then close the socket."""
        if self._closed:
            return
        if self._error is None:
            head = encode_header(self._session, self._send_seq, KIND_CLOSE, 0, (), 0)
            self._queue.put((head,))
        self._queue.put(_STOP)
        self._closed = True
        self._sender.join(self._timeout if flush_timeout is None else flush_timeout)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
