"""Links between party processes, possibly on different hosts, over a TLS or plain TCP stream.

``send`` never waits for the peer: a small frame on an idle link is written at once if the kernel
takes it all (one syscall, no thread hand-off); anything else goes to a sender thread, in order,
so two parties that both send large messages before receiving never deadlock. ``recv`` waits at
most ``timeout`` seconds for the peer.
Frames are checked for session id and sequence number; see ``frame.py`` for the format.
A link that sees a frame of another session, an out-of-order (replayed) frame, a malformed
frame or a silent peer tells the peer why (an abort frame) and ends; so does ``abort``.

Memory a peer can make us hold: a frame may announce at most ``max_message`` payload bytes (per
link, changeable between messages: a service lowers it to what the session's public phase
allows, e.g. 1 MiB for a request); a larger announcement is refused before anything is
allocated. A payload above ``GROW_FROM`` is read into a buffer that doubles as bytes arrive
(``realloc``, so large blocks move by page remapping, not copying), so what we hold is at most
about twice what the peer actually sent, never what it claims. A failed read keeps nothing:
the frames of its traceback are cleared, so the partial buffer is freed at once even though the
error stays referenced (``recv`` raises it again) in a cycle through this channel.
"""

from __future__ import annotations

import ctypes
import queue
import select
import socket
import struct
import threading
import traceback

import torch

from privformers.mpc.transport.base import (
    Message,
    PeerDisconnected,
    PeerTimeout,
    SessionAborted,
    TransportError,
    payload_nbytes,
)
from privformers.mpc.transport.frame import (
    DTYPES,
    HEADER,
    KIND_ABORT,
    KIND_BYTES,
    KIND_CLOSE,
    MAX_REASON,
    check_tensor_size,
    encode_header,
    parse_header,
    tensor_frame,
)
from privformers.mpc.transport.stream import PlainStream, Stream, tune, write_all, write_nowait

MAX_MESSAGE = 2 << 30   # default per-link cap on an announced payload (a link's max_message may be lower)
GROW_FROM = 1 << 20     # payloads up to this size get their buffer at once; larger ones grow as bytes arrive
INLINE_MAX = 64 << 10   # frames up to this size may be written by the sending thread itself
MAX_QUEUED = 256 << 20  # a sender waits while this many payload bytes are queued (bounds a fast dealer's memory)
_STOP = object()
RAW, FRAME, FLUSH = 0, 1, 2

__all__ = ["MAX_MESSAGE", "TcpChannel", "tune"]


class TcpChannel:
    """One end of a link to a peer, after the handshake (see ``connect.py``)."""

    def __init__(self, stream: Stream | socket.socket, peer: str, session: bytes, timeout: float = 60.0,
                 where: str = "", max_message: int = MAX_MESSAGE) -> None:
        """max_message: the largest payload (bytes) the peer may announce in one frame; an attribute
        that the owner may change between messages (see the module docstring)."""
        if len(session) != 16:
            raise ValueError("session id must be 16 bytes")
        if max_message < 0:
            raise ValueError(f"max_message must be >= 0, got {max_message}")
        self.max_message = max_message
        if isinstance(stream, socket.socket):
            stream = PlainStream(stream)
        self.peer, self._stream, self._session, self._timeout = peer, stream, session, timeout
        self._where = f" at {where}" if where else ""
        self._send_seq = self._recv_seq = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wlock = threading.RLock()   # re-entered when a failed inline write wakes waiting senders
        self._pending = 0          # items queued for (or being written by) the sender thread
        self._queued_bytes = 0     # their payload bytes
        self._room = threading.Condition(self._wlock)
        self._error: TransportError | None = None
        self._closed = False
        self._ended: TransportError | None = None
        self._poll = min(timeout, 1.0)
        self._wait = timeout       # the silence that ends the current recv (its timeout, or the link's)
        stream.settimeout(self._poll)
        stream.on_output = lambda: self._enqueue((FLUSH,))
        self._sender = threading.Thread(target=self._send_loop, name=f"send-{peer}", daemon=True)
        self._sender.start()

    @property
    def encrypted(self) -> bool:
        return self._stream.encrypted

    # -- sending --------------------------------------------------------------
    def send(self, msg: Message) -> int:
        """Queue msg for the peer (never waits for it); returns the payload bytes."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise TransportError(f"link to {self.peer} is closed")
        if isinstance(msg, torch.Tensor):
            head, payload = tensor_frame(self._session, self._send_seq, msg)
        elif isinstance(msg, bytes | bytearray | memoryview):
            payload = bytes(msg)
            head = encode_header(self._session, self._send_seq, KIND_BYTES, 0, (), len(payload))
        else:
            raise TypeError(f"can send tensors or bytes, not {type(msg).__name__}")
        self._send_seq += 1
        self._submit(head, payload)
        return payload_nbytes(msg)

    def _submit(self, head: bytes, payload: memoryview | bytes | None) -> None:
        """Write now when the link is idle and the frame small, else queue it (order is kept)."""
        with self._wlock:
            if self._pending == 0 and (payload is None or len(payload) <= INLINE_MAX):
                try:
                    left = write_nowait(self._stream.sock, self._stream.encode(head, payload))
                except (OSError, TransportError) as exc:
                    self._fail_send(exc)
                    raise self._error from None
                if not left:
                    return
                item: tuple = (RAW, left)
            else:
                item = (FRAME, head, payload)
                # backpressure: a producer far ahead of its reader waits instead of buffering without bound
                while self._queued_bytes > MAX_QUEUED and self._error is None and not self._closed:
                    self._room.wait(1.0)
                if self._error is not None:
                    raise self._error
            self._pending += 1
            self._queued_bytes += _size(item)
            self._queue.put(item)

    def _enqueue(self, item: tuple) -> None:
        with self._wlock:
            self._pending += 1
            self._queue.put(item)

    def _fail_send(self, exc: BaseException) -> None:
        self._error = PeerDisconnected(f"{self.peer}{self._where} disconnected while we were sending "
                                       f"({exc.__class__.__name__})")
        with self._room:
            self._room.notify_all()

    def _send_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                if item[0] == RAW:
                    write_all(self._stream.sock, item[1])
                elif item[0] == FRAME:
                    self._stream.send_frame(item[1], item[2])
                else:
                    self._stream.flush()
            except (OSError, TransportError) as exc:
                self._fail_send(exc)
                return
            with self._wlock:
                self._pending -= 1
                self._queued_bytes -= _size(item)
                self._room.notify_all()

    # -- receiving ------------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Message:
        """The next message; PeerTimeout after ``timeout`` s of silence (default: the link's), PeerDisconnected on EOF.

        A refused or failed message (over ``max_message``, malformed, cut short) ends the link and
        frees whatever had been received of it before the error reaches the caller."""
        if self._ended is not None:
            raise self._ended
        self._wait = self._timeout if timeout is None else timeout
        try:
            return self._recv()
        except BaseException as exc:
            _drop_locals(exc)   # the failed read's buffer must not live as long as the error
            if not isinstance(exc, TransportError):
                raise
            self._ended = exc
            if isinstance(exc, PeerTimeout):
                self.abort(f"waited {self._wait:g} s for a message and gave up")
            elif not isinstance(exc, SessionAborted | PeerDisconnected):   # a bad frame: tell the peer, then end
                self.abort(f"refused a frame: {exc}")
            raise

    def _recv(self) -> Message:
        seq, kind, code, ndim, nbytes = parse_header(self._read(HEADER.size, start=True), self._session, self.peer)
        if seq != self._recv_seq and kind != KIND_ABORT:
            raise TransportError(f"{self.peer} sent message #{seq}, expected #{self._recv_seq}: "
                                 "messages lost or replayed")
        self._recv_seq += 1
        shape = struct.unpack(f"!{ndim}q", self._read(8 * ndim)) if ndim else ()
        if kind == KIND_CLOSE:
            raise PeerDisconnected(f"{self.peer}{self._where} closed the link")
        if kind in (KIND_BYTES, KIND_ABORT):
            self._check_size(nbytes, MAX_REASON if kind == KIND_ABORT else self.max_message)
            data = bytes(self._read(nbytes)) if nbytes else b""
            if kind == KIND_ABORT:
                raise SessionAborted(f"{self.peer}{self._where} ended the session: "
                                     f"{data.decode('utf-8', 'replace')}")
            return data
        self._check_size(nbytes, self.max_message)
        check_tensor_size(self.peer, code, shape, nbytes)
        if nbytes == 0:
            return torch.empty(shape, dtype=DTYPES[code])
        buf = self._read(nbytes)
        return torch.frombuffer(buf, dtype=DTYPES[code]).reshape(shape)

    def _check_size(self, nbytes: int, limit: int) -> None:
        if nbytes > limit:
            raise TransportError(f"{self.peer}{self._where} announced a {nbytes}-byte message, over this link's "
                                 f"{limit}-byte limit: refused")

    def _read(self, n: int, start: bool = False) -> bytearray:
        """Exactly n bytes from the peer (start: at a frame boundary, where a clean end is not a cut).

        Up to GROW_FROM bytes the buffer is allocated at once; beyond, it starts at GROW_FROM and
        doubles (up to n) each time it is full, so it never holds more than about twice the bytes
        received. Growing is ``realloc`` without zero-filling: large blocks are remapped, not copied."""
        buf = bytearray(min(n, GROW_FROM))
        got = self._fill(buf, 0, start)
        while got < n:
            try:
                _resize(buf, min(n, 2 * len(buf)))
            except MemoryError:
                raise TransportError(f"no memory for the {n}-byte message from {self.peer}{self._where}") from None
            got = self._fill(buf, got, start)
        return buf

    def _fill(self, buf: bytearray, got: int, start: bool) -> int:
        """Read into buf[got:] until it is full; returns len(buf)."""
        n, waited = len(buf), 0.0
        with memoryview(buf) as view:          # released on return: buf may then be resized
            while got < n:
                try:
                    k = self._stream.recv_into(view[got:])
                except TimeoutError:
                    waited += self._poll
                    if self._error is not None:
                        raise self._error from None
                    if waited >= self._wait:
                        raise PeerTimeout(f"{self.peer}{self._where} sent nothing for "
                                          f"{self._wait:g} s") from None
                    continue
                except OSError as exc:
                    raise PeerDisconnected(f"{self.peer}{self._where} disconnected "
                                           f"({exc.__class__.__name__}: {exc.strerror or exc})") from None
                if k == 0:
                    cut = "" if start and got == 0 else ", in the middle of a message (truncated)"
                    raise PeerDisconnected(f"{self.peer}{self._where} disconnected (connection closed{cut})")
                got, waited = got + k, 0.0
        return n

    def vanished(self) -> str | None:
        """Why the peer is gone, checked without reading: the link ended (EOF or reset) with nothing
        left to read, or sending failed; None while it may still be alive. A peer that closes normally
        sends a close frame first, which stays unread (in the kernel or our buffers), so it never
        counts as vanished."""
        if self._closed or self._ended is not None:
            return None
        if self._error is not None:
            return str(self._error)
        st = self._stream
        if getattr(st, "_pos", 0) < getattr(st, "_end", 0):
            return None   # frames already read into our buffer are still unconsumed
        tls_in = getattr(st, "_in", None)
        if tls_in is not None and tls_in.pending:
            return None
        sock = getattr(st, "sock", None)
        if sock is None:
            return None
        try:
            if not select.select([sock], [], [], 0)[0]:
                return None
            data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, TimeoutError, InterruptedError):
            return None   # our reader took the bytes first: the peer is alive
        except (OSError, ValueError) as exc:
            if self._closed:
                return None
            return f"{self.peer}{self._where} disconnected ({exc.__class__.__name__}: {exc})"
        return None if data else f"{self.peer}{self._where} disconnected (connection closed)"

    # -- closing --------------------------------------------------------------
    def close(self, flush_timeout: float | None = None) -> None:
        """Send everything queued and a close frame (bounded wait), then close the connection."""
        if self._error is None and not self._closed:
            self._last_word(encode_header(self._session, self._send_seq, KIND_CLOSE, 0, (), 0), None)
        self._finish(self._timeout if flush_timeout is None else flush_timeout)

    def abort(self, reason: str, flush_timeout: float = 1.0) -> None:
        """End the session: tell the peer why (a short text, never data), then close."""
        if self._error is None and not self._closed:
            data = reason.encode("utf-8", "replace")[:MAX_REASON]
            self._last_word(encode_header(self._session, self._send_seq, KIND_ABORT, 0, (), len(data)), data)
        self._finish(flush_timeout)

    def _last_word(self, head: bytes, payload: bytes | None) -> None:
        try:
            self._submit(head, payload)
        except TransportError:
            pass

    def _finish(self, flush_timeout: float) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._sender.join(flush_timeout)
        self._stream.close()


_BYTEARRAY_RESIZE = ctypes.pythonapi.PyByteArray_Resize
_BYTEARRAY_RESIZE.argtypes = (ctypes.py_object, ctypes.c_ssize_t)
_BYTEARRAY_RESIZE.restype = ctypes.c_int


def _resize(buf: bytearray, size: int) -> None:
    """Grow buf to size bytes without writing the new part (CPython's ``PyByteArray_Resize``: a
    ``realloc``; the caller fills the new bytes before anyone sees them). Raises BufferError while a
    view of buf exists, MemoryError when the memory is not there."""
    _BYTEARRAY_RESIZE(buf, size)


def _drop_locals(exc: BaseException) -> None:
    """Clear the local variables of the finished frames in exc's traceback and in those of the
    exceptions it chains to (a ``from None`` still keeps its context). A failed read's frames hold
    its partial buffer, up to max_message bytes; a link keeps its error (and the error its frames)
    for as long as the link lives, and in a reference cycle through the link after that."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)
        exc = exc.__cause__ or exc.__context__


def _size(item: tuple) -> int:
    """Payload bytes of a queued item (frames and leftover raw parts; 0 for a flush)."""
    if item[0] == FRAME:
        return memoryview(item[2]).nbytes if item[2] is not None else 0
    if item[0] == RAW:
        return sum(p.nbytes for p in item[1])
    return 0
