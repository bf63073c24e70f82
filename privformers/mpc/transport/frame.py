"""The wire format of a TCP link: a fixed binary header, the shape, then raw payload bytes.

Nothing from a peer is ever unpickled: the header is parsed with ``struct``, the dtype comes
from a small fixed table, and the payload is copied byte for byte into a fresh tensor.

    header  !4s B 16s Q B B B Q   magic b"PFMR", version, session id, sequence number,
                                  kind (tensor/bytes/close/abort), dtype code, ndim, payload length
    shape   ndim x !q             the tensor's dimensions (none for bytes)
    payload payload-length bytes  row-major tensor data, or the bytes message
"""

from __future__ import annotations

import struct

import torch

from privformers.mpc.transport.base import SessionMismatch, TransportError

MAGIC = b"PFMR"
VERSION = 1
HEADER = struct.Struct("!4sB16sQBBBQ")
KIND_TENSOR, KIND_BYTES, KIND_CLOSE, KIND_ABORT = 0, 1, 2, 3
MAX_REASON = 512   # an abort frame carries a short reason (never data)
MAX_NDIM = 16

DTYPES: dict[int, torch.dtype] = {
    1: torch.int64, 2: torch.int32, 3: torch.int16, 4: torch.int8,
    5: torch.uint8, 6: torch.float64, 7: torch.float32, 8: torch.bool,
}
DTYPE_CODES = {dt: code for code, dt in DTYPES.items()}


def encode_header(session: bytes, seq: int, kind: int, dtype_code: int, shape: tuple[int, ...],
                  nbytes: int) -> bytes:
    """Header and shape of one frame."""
    if len(shape) > MAX_NDIM:
        raise TransportError(f"tensors of more than {MAX_NDIM} dimensions cannot be sent")
    head = HEADER.pack(MAGIC, VERSION, session, seq, kind, dtype_code, len(shape), nbytes)
    return head + struct.pack(f"!{len(shape)}q", *shape)


def tensor_frame(session: bytes, seq: int, t: torch.Tensor) -> tuple[bytes, memoryview]:
    """Header and payload of a tensor (a private copy, so the caller may change t afterwards)."""
    if t.is_meta or t.device.type != "cpu":
        raise TransportError(f"only CPU tensors with data can be sent, got one on {t.device}")
    code = DTYPE_CODES.get(t.dtype)
    if code is None:
        raise TransportError(f"dtype {t.dtype} cannot be sent; supported: {sorted(map(str, DTYPE_CODES))}")
    data = t.detach().contiguous().clone()
    raw = data.reshape(-1).view(torch.uint8).numpy() if data.numel() else b""
    payload = memoryview(raw).cast("B")
    return encode_header(session, seq, KIND_TENSOR, code, tuple(t.shape), len(payload)), payload


def parse_header(raw: bytes, session: bytes, peer: str) -> tuple[int, int, int, int, int]:
    """Check magic, version and session; return (seq, kind, dtype code, ndim, payload length)."""
    magic, version, sid, seq, kind, code, ndim, nbytes = HEADER.unpack(raw)
    if magic != MAGIC or version != VERSION:
        raise TransportError(f"{peer} sent a frame that is not privformers v{VERSION} (magic {magic!r}, "
                             f"version {version})")
    if sid != session and kind != KIND_ABORT:     # an abort ends the link whatever session it names
        raise SessionMismatch(f"{peer} sent a frame of session {sid.hex()[:12]}..., this is session "
                              f"{session.hex()[:12]}...: refused")
    if kind not in (KIND_TENSOR, KIND_BYTES, KIND_CLOSE, KIND_ABORT) or ndim > MAX_NDIM:
        raise TransportError(f"{peer} sent a malformed frame (kind {kind}, ndim {ndim})")
    if kind == KIND_TENSOR and code not in DTYPES:
        raise TransportError(f"{peer} sent an unknown dtype code {code}")
    return seq, kind, code, ndim, nbytes


def check_tensor_size(peer: str, code: int, shape: tuple[int, ...], nbytes: int) -> None:
    """Refuse frames whose payload length does not match their shape and dtype (the link checks the
    length against its own limit first)."""
    if any(d < 0 for d in shape):
        raise TransportError(f"{peer} sent a negative dimension {shape}")
    numel = 1
    for d in shape:
        numel *= d
    expected = numel * torch.empty((), dtype=DTYPES[code]).element_size()
    if expected != nbytes:
        raise TransportError(f"{peer} sent {nbytes} payload bytes for shape {shape} ({expected} expected)")
