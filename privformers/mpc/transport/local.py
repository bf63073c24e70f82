"""In-process links between parties running as threads: for tests and quick runs."""

from __future__ import annotations

import queue

import torch

from privformers.mpc.transport.base import Message, PeerDisconnected, PeerTimeout, payload_nbytes

_CLOSED = object()


class LocalChannel:
    """One end of an in-process link; tensors are copied so the peer never shares memory."""

    def __init__(self, peer: str, inbox: queue.Queue, outbox: queue.Queue, timeout: float) -> None:
        self.peer = peer
        self._inbox, self._outbox, self._timeout = inbox, outbox, timeout

    def send(self, msg: Message) -> int:
        self._outbox.put(msg.clone() if isinstance(msg, torch.Tensor) else bytes(msg))
        return payload_nbytes(msg)

    def recv(self) -> Message:
        try:
            msg = self._inbox.get(timeout=self._timeout)
        except queue.Empty:
            raise PeerTimeout(f"{self.peer} sent nothing for {self._timeout:.0f} s") from None
        if msg is _CLOSED:
            raise PeerDisconnected(f"{self.peer} closed the link")
        return msg

    def close(self) -> None:
        self._outbox.put(_CLOSED)


def local_pair(a: str, b: str, timeout: float = 120.0) -> tuple[LocalChannel, LocalChannel]:
    """Two connected ends: the first is a's link to b, the second b's link to a."""
    ab, ba = queue.Queue(), queue.Queue()
    return LocalChannel(b, ba, ab, timeout), LocalChannel(a, ab, ba, timeout)
