"""What a link between two parties must do: send and receive tensors or bytes, in order."""

from __future__ import annotations

from typing import Protocol

import torch

Message = torch.Tensor | bytes


class TransportError(RuntimeError):
    """A link failed: the peer is gone, silent, or speaking for another session."""


class PeerTimeout(TransportError):
    """The peer sent nothing within the allowed time."""


class PeerDisconnected(TransportError):
    """The peer closed the connection or its process ended."""


class SessionMismatch(TransportError):
    """A message or handshake belongs to another session."""


class SessionAborted(TransportError):
    """The peer ended the session and said why."""


class TlsError(TransportError):
    """The TLS layer failed: a handshake, a certificate, or a corrupted record."""


class CertificateRefused(TlsError):
    """A certificate is not signed by the session CA, or is not for the expected role."""


class Channel(Protocol):
    """A reliable, ordered, bidirectional link to one peer. ``send`` does not wait for the peer."""

    peer: str

    def send(self, msg: Message) -> int:
        """Queue msg for the peer; return the number of payload bytes it costs on the wire."""
        ...

    def recv(self) -> Message:
        """The next message from the peer; raises TransportError on timeout or disconnect."""
        ...

    def close(self) -> None:
        ...


def payload_nbytes(msg: Message) -> int:
    """Bytes a message carries (the meter counts payload, not framing)."""
    if isinstance(msg, torch.Tensor):
        return msg.numel() * msg.element_size()
    return len(msg)
