"""Cryptographic pseudo-randomness: AES-256-CTR streams seeded from the OS.

Every share, mask and correlated value that protects a secret comes from here, never
from torch's or numpy's global generators. Two parties holding the same seed draw the
same stream, which lets the dealer send only correction terms.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEED_BYTES = 32
_CHUNK = 1 << 24


class AesCtrPrg:
    """A deterministic stream of random bytes: AES-256 in counter mode keyed by a 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"seed must be {SEED_BYTES} bytes")
        self._enc = Cipher(algorithms.AES(seed), modes.CTR(b"\x00" * 16)).encryptor()
        self._zeros = bytes(_CHUNK)

    @classmethod
    def from_os(cls) -> AesCtrPrg:
        """A fresh stream seeded with os.urandom."""
        return cls(new_seed())

    def random_bytes(self, n: int) -> bytes:
        """The next n bytes of the stream."""
        parts = []
        while n > 0:
            k = min(n, _CHUNK)
            parts.append(self._enc.update(self._zeros[:k]))
            n -= k
        return b"".join(parts) if len(parts) != 1 else parts[0]

    def ring(self, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
        """Uniform elements of Z_2^64 as an int64 tensor."""
        n = int(np.prod(shape)) if len(shape) else 1
        buf = np.frombuffer(self.random_bytes(8 * n), dtype=np.int64)
        return torch.from_numpy(buf.copy()).reshape(shape)

    def bits(self, shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
        """Uniform bits as a 0/1 int64 tensor."""
        n = int(np.prod(shape)) if len(shape) else 1
        buf = np.frombuffer(self.random_bytes(n), dtype=np.uint8) & 1
        return torch.from_numpy(buf.astype(np.int64)).reshape(shape)

    def below(self, shape: tuple[int, ...] | torch.Size, bound: int) -> torch.Tensor:
        """Uniform integers in [0, bound) for a power-of-two bound (no modulo bias)."""
        if bound & (bound - 1):
            raise ValueError("bound must be a power of two")
        return self.ring(shape) & (bound - 1)


def new_seed() -> bytes:
    """A fresh 32-byte seed from the operating system's CSPRNG."""
    return os.urandom(SEED_BYTES)
