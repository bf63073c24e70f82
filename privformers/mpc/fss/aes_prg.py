"""Batched fixed-key AES PRG (Matyas-Meyer-Oseas) used as the length-doubling PRG of the DCF."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Public, fixed AES-128 key.  Fixed-key AES is modelled as a public random permutation pi, and
# G_i(s) = pi(s ^ i) ^ s ^ i (Matyas-Meyer-Oseas) is then a correlation-robust PRG (Guo et al., S&P 2020).
# The value is SHA-256(b"privformers/fss/fixed-key-aes/v1")[:16]; any public constant works, but changing
# it changes every key ever generated, so it is versioned here.
FIXED_KEY: bytes = bytes.fromhex("b4c900bdf3a365d14f94b8c84e2903b4")

# Little-endian uint64 dtype used for (N, 2) views of 16-byte blocks.
U64 = np.dtype("<u8")


def _encryptor():  # noqa: ANN202 - cryptography's context type is private
    """A fresh AES-ECB encryptor under the fixed public key (ECB is stateless, so it can be reused)."""
    return Cipher(algorithms.AES(FIXED_KEY), modes.ECB()).encryptor()


class FixedKeyAES:
    """Fixed-key AES-ECB wrapper that encrypts many 16-byte blocks in one OpenSSL call."""

    def __init__(self) -> None:
        """Create the (stateless) ECB context once and reuse it for every batch."""
        self._enc = _encryptor()

    def mmo_(self, blocks: np.ndarray) -> np.ndarray:
        """In place: blocks <- AES_k(blocks) ^ blocks for C-contiguous (M, 2) uint64; returns blocks."""
        if blocks.dtype != U64 or not blocks.flags.c_contiguous or blocks.ndim != 2 or blocks.shape[1] != 2:
            raise ValueError("blocks must be a C-contiguous (M, 2) little-endian uint64 array")
        if blocks.shape[0] == 0:
            return blocks
        ct = self._enc.update(memoryview(blocks.reshape(-1).view(np.uint8)))
        enc = np.frombuffer(ct, dtype=U64).reshape(blocks.shape)
        np.bitwise_xor(blocks, enc, out=blocks)
        return blocks


class _ThreadLocalAES(threading.local):
    """One OpenSSL context per thread: contexts are not safe to share (parties may be threads)."""

    def __init__(self) -> None:
        self.aes = FixedKeyAES()


_LOCAL = _ThreadLocalAES()


def as_u64_blocks(seeds: np.ndarray) -> np.ndarray:
    """View (N, 16) uint8 or (N, 2) uint64 seeds as a C-contiguous (N, 2) little-endian uint64 array."""
    seeds = np.ascontiguousarray(seeds)
    if seeds.dtype == np.uint8 and seeds.ndim == 2 and seeds.shape[1] == 16:
        return seeds.view(U64)
    if seeds.dtype.kind == "u" and seeds.dtype.itemsize == 8 and seeds.ndim == 2 and seeds.shape[1] == 2:
        return seeds.astype(U64, copy=False)
    raise ValueError(f"seeds must be (N, 16) uint8 or (N, 2) uint64, got {seeds.dtype} {seeds.shape}")


def prg_expand(seeds: np.ndarray, tweaks: Sequence[int]) -> np.ndarray:
    """G(s) = [AES_k(s ^ i) ^ s ^ i for i in tweaks], shape (len(tweaks), N, 2) uint64, in one AES call.

    The tweak i (a small non-negative integer) is XORed into the second 64-bit word (bytes 8..15) of s.
    """
    s = as_u64_blocks(seeds)
    n = s.shape[0]
    buf = np.empty((len(tweaks), n, 2), dtype=U64)
    buf[:] = s
    for j, tw in enumerate(tweaks):
        if tw:
            buf[j, :, 1] ^= np.uint64(tw)
    _LOCAL.aes.mmo_(buf.reshape(-1, 2))
    return buf


def mmo_inplace(blocks: np.ndarray) -> np.ndarray:
    """In-place MMO over caller-built (M, 2) uint64 blocks (tweaks already applied); DCF hot-loop entry."""
    return _LOCAL.aes.mmo_(blocks)
