"""TLS 1.3 with mutual authentication on every link (standard library ``ssl``).

Both ends present a certificate signed by the session CA and verify the other's; nothing else
is trusted (no system CAs). The peer's role is read from its certificate (the URI SAN
``urn:privformers:role:<role>``, see ``certs.py``) and must be the role expected on that link,
so a client certificate cannot pose as the dealer. Extended key usage is enforced by OpenSSL.

The record layer runs over memory BIOs: this process does the socket I/O itself, so one
``recv`` can bring in many records, a frame is encrypted with one write and sent with one
syscall, and the sender thread and the reader share the TLS state under a short lock.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from privformers.mpc.transport.base import CertificateRefused, PeerDisconnected, TlsError, TransportError
from privformers.mpc.transport.certs import ROLE_URI, PartyFiles
from privformers.mpc.transport.stream import Buffered, Parts, tune, write_all

SMALL_FRAME = 64 << 10   # header and payload are encrypted together (one write) up to this size
CHUNK = 256 << 10        # larger payloads are encrypted and sent in pieces of this size
RAW_BUFFER = 256 << 10
REFUSALS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "UNSUPPORTED_CERTIFICATE",
            "CERTIFICATE_REQUIRED", "CERTIFICATE_EXPIRED", "CERTIFICATE_REVOKED", "DECRYPT_ERROR",
            "HANDSHAKE_FAILURE", "ACCESS_DENIED")
NOT_TLS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE",
           "UNKNOWN_PROTOCOL", "WRONG_SSL_VERSION", "UNSUPPORTED_PROTOCOL")


def cert_role(cert: x509.Certificate) -> str | None:
    """The privformers role a certificate is for, or None when it names none (or several)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    roles = [u[len(ROLE_URI):] for u in san.get_values_for_type(x509.UniformResourceIdentifier)
             if u.startswith(ROLE_URI)]
    return roles[0] if len(roles) == 1 else None


@dataclass
class TlsConfig:
    """This party's certificate and key, and the CA whose certificates it accepts."""

    cert: Path
    key: Path
    ca: Path
    _contexts: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_files(cls, files: PartyFiles) -> TlsConfig:
        return cls(files.cert, files.key, files.ca)

    def role(self) -> str:
        """The role named by our own certificate (clear error when it names none)."""
        try:
            cert = x509.load_pem_x509_certificate(Path(self.cert).read_bytes())
        except (OSError, ValueError) as exc:
            raise TlsError(f"cannot read the certificate {self.cert}: {exc}") from None
        role = cert_role(cert)
        if role is None:
            raise TlsError(f"the certificate {self.cert} names no privformers role "
                           f"(expected a URI SAN {ROLE_URI}<role>; make one with `privformers certs`)")
        return role

    def check_role(self, role: str) -> None:
        """Refuse to start when our certificate is for another role."""
        mine = self.role()
        if mine != role:
            raise TlsError(f"the certificate {self.cert} is for the {mine}, but this party runs as the {role}")

    def context(self, server_side: bool) -> ssl.SSLContext:
        """A TLS 1.3-only context that presents our certificate and requires the peer's, signed by our CA."""
        if server_side not in self._contexts:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.check_hostname = False          # peers are identified by the role in their certificate
            ctx.verify_mode = ssl.CERT_REQUIRED
            if server_side:
                ctx.num_tickets = 0             # no resumption: every session is a full handshake
            try:
                ctx.load_cert_chain(self.cert, self.key)
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(f"cannot load the certificate {self.cert} with the key {self.key}: {exc}") from None
            try:
                ctx.load_verify_locations(cafile=str(self.ca))
            except (OSError, ssl.SSLError) as exc:
                raise TlsError(f"cannot load the CA certificate {self.ca}: {exc}") from None
            self._contexts[server_side] = ctx
        return self._contexts[server_side]


def _words(reason: str) -> str:
    """TLSV1_ALERT_UNKNOWN_CA -> 'unknown ca'."""
    for prefix in ("TLSV13_ALERT_", "TLSV1_ALERT_", "SSLV3_ALERT_"):
        reason = reason.removeprefix(prefix)
    return reason.replace("_", " ").lower()


def describe(exc: ssl.SSLError, who: str) -> TransportError:
    """A clear error for a TLS failure with who (never any key or record content)."""
    reason = (exc.reason or "").upper()
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateRefused(f"{who} presented a certificate we do not accept: {exc.verify_message} "
                                  "(not signed by our CA, expired, or not made for this use)")
    if isinstance(exc, ssl.SSLEOFError) or "UNEXPECTED_EOF" in reason:
        return PeerDisconnected(f"{who} closed the connection without ending TLS (a message was cut short)")
    if any(r in reason for r in REFUSALS):
        return CertificateRefused(f"{who} refused our certificate (TLS alert: {_words(reason)}): it does "
                                  "not trust the CA that signed ours, or ours is not for this role")
    if any(r in reason for r in NOT_TLS):
        return TlsError(f"{who} does not speak TLS 1.3 ({_words(reason)}): is it running with "
                        "--insecure-transport?")
    return TlsError(f"TLS error with {who}: {_words(reason) if reason else exc.__class__.__name__}")


class TlsStream(Buffered):
    """A TLS connection over a TCP socket, with the record layer driven through memory BIOs."""

    encrypted = True

    def __init__(self, sock: socket.socket, config: TlsConfig, server_side: bool, who: str) -> None:
        tune(sock)
        self.sock, self.who = sock, who
        self.on_output: Callable[[], None] | None = None
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = config.context(server_side).wrap_bio(self._in, self._out, server_side=server_side)
        self._lock = threading.Lock()
        self._raw = memoryview(bytearray(RAW_BUFFER))
        self._init_buffer()

    # -- handshake ------------------------------------------------------------
    def handshake(self, deadline: float) -> None:
        """Run the TLS handshake, waiting at most until deadline (time.monotonic())."""
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self._fill(deadline)
            except ssl.SSLError as exc:
                self._flush_quietly()       # the alert tells the peer why
                raise describe(exc, self.who) from None
        self.flush()

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TlsError(f"{self.who} did not complete the TLS handshake in time")
        self.sock.settimeout(left)
        try:
            k = self.sock.recv_into(self._raw)
        except TimeoutError:
            raise TlsError(f"{self.who} did not complete the TLS handshake in time") from None
        except OSError as exc:
            raise PeerDisconnected(f"{self.who} disconnected during the TLS handshake "
                                   f"({exc.__class__.__name__})") from None
        if k == 0:
            raise PeerDisconnected(f"{self.who} closed the connection during the TLS handshake")
        self._in.write(self._raw[:k])

    def peer_role(self) -> str:
        """The role named in the peer's (verified) certificate."""
        der = self._tls.getpeercert(binary_form=True)
        role = cert_role(x509.load_der_x509_certificate(der)) if der else None
        if role is None:
            raise CertificateRefused(f"{self.who} presented a certificate that names no privformers role")
        return role

    # -- data -----------------------------------------------------------------
    def encode(self, head: bytes, payload: memoryview | bytes | None) -> Parts:
        """Encrypt a small frame (header and payload in one record); also takes any pending control record."""
        with self._lock:
            try:
                self._tls.write(b"".join((head, payload)) if payload is not None and len(payload) else head)
            except ssl.SSLError as exc:
                raise describe(exc, self.who) from None
            return [memoryview(self._out.read())]

    def send_frame(self, head: bytes, payload: memoryview | bytes | None = None) -> None:
        n = 0 if payload is None else len(payload)
        if n <= SMALL_FRAME:
            write_all(self.sock, self.encode(head, payload))
            return
        view = memoryview(payload).cast("B")
        for start in range(0, view.nbytes, CHUNK):
            with self._lock:
                try:
                    if start == 0:
                        self._tls.write(head)
                    self._tls.write(view[start:start + CHUNK])
                except ssl.SSLError as exc:
                    raise describe(exc, self.who) from None
                data = self._out.read()
            write_all(self.sock, [memoryview(data)])

    def flush(self) -> None:
        with self._lock:
            data = self._out.read() if self._out.pending else b""
        if data:
            write_all(self.sock, [memoryview(data)])

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except OSError:
            pass

    def _read_raw(self, view: memoryview) -> int:
        """Decrypted bytes into view (at most one record's worth)."""
        while True:
            if not self._in.pending and not self._tls.pending():
                self._receive()                       # nothing buffered: wait for the peer first
            with self._lock:
                try:
                    n: int | None = self._tls.read(len(view), view)
                except ssl.SSLWantReadError:
                    n = None
                except ssl.SSLZeroReturnError:
                    return 0                        # the peer ended TLS properly
                except ssl.SSLError as exc:
                    raise describe(exc, self.who) from None
                pending = self._out.pending
            if pending:                              # e.g. a key update answer: the sender thread sends it
                (self.on_output or self.flush)()
            if n is not None:
                return n
            self._receive()

    def _receive(self) -> None:
        """Move what the socket has (waiting up to its timeout) into the TLS input."""
        k = self.sock.recv_into(self._raw)
        with self._lock:
            if k == 0:
                self._in.write_eof()
            else:
                self._in.write(self._raw[:k])

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def close(self) -> None:
        """Send close_notify (best effort), then close the socket."""
        with self._lock:
            try:
                self._tls.unwrap()
            except ssl.SSLError:
                pass
            data = self._out.read() if self._out.pending else b""
        try:
            if data:
                self.sock.settimeout(0.5)
                self.sock.sendall(data)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
