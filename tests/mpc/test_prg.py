"""The sharing PRG: ring elements are the AES-256-CTR stream itself, read as little-endian int64,
continuous across calls and across the cipher's internal chunks."""

from __future__ import annotations

import numpy as np
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import privformers.mpc.prg as prg
from privformers.mpc.prg import AesCtrPrg


def test_ring_is_the_ctr_stream_across_calls_and_chunks(monkeypatch):
    monkeypatch.setattr(prg, "_CHUNK", 40)   # many chunks per call, one not a multiple of 8 bytes
    seed = bytes(range(100, 132))
    stream = AesCtrPrg(seed)
    shapes = [(3,), (0,), (), (5, 7), (101,), (1,)]
    drawn = [stream.ring(s) for s in shapes]
    total = sum(int(np.prod(s)) if len(s) else 1 for s in shapes)
    ref = Cipher(algorithms.AES(seed), modes.CTR(b"\x00" * 16)).encryptor().update(bytes(8 * total))
    want = torch.from_numpy(np.frombuffer(ref, dtype="<i8").copy())
    assert [tuple(d.shape) for d in drawn] == [tuple(s) for s in shapes]
    assert all(d.dtype == torch.int64 and d.is_contiguous() for d in drawn)
    assert torch.equal(torch.cat([d.reshape(-1) for d in drawn]), want)
    assert AesCtrPrg(seed).random_bytes(16) == ref[:16]   # the byte stream agrees too
