"""Fixed-point encoding over the ring Z_2^64, held in torch.int64 with wrap-around arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import torch

RING_BITS = 64
DTYPE = torch.int64
MIN_FRAC_BITS, MAX_FRAC_BITS = 8, 30


@dataclass(frozen=True)
class FixedPoint:
    """Fixed-point format: a real x is stored as round(x * 2^frac_bits) mod 2^64."""

    frac_bits: int = 16

    def __post_init__(self) -> None:
        if not MIN_FRAC_BITS <= self.frac_bits <= MAX_FRAC_BITS:
            raise ValueError(f"frac_bits must be in [{MIN_FRAC_BITS}, {MAX_FRAC_BITS}], got {self.frac_bits}")

    @property
    def scale(self) -> int:
        return 1 << self.frac_bits

    def encode(self, x: torch.Tensor | float, frac_bits: int | None = None) -> torch.Tensor:
        """Encode reals as ring elements (float64 rounding keeps 53 bits of the value exact)."""
        f = self.frac_bits if frac_bits is None else frac_bits
        t = torch.as_tensor(x, dtype=torch.float64)
        return torch.round(t * float(1 << f)).to(DTYPE)

    def decode(self, x: torch.Tensor, frac_bits: int | None = None) -> torch.Tensor:
        """Decode ring elements (read as signed) to float64 reals."""
        f = self.frac_bits if frac_bits is None else frac_bits
        return x.to(torch.float64) / float(1 << f)


def logical_rshift(x: torch.Tensor, k: int) -> torch.Tensor:
    """Shift right treating the int64 as an unsigned 64-bit value."""
    if k == 0:
        return x
    return (x >> k) & ((1 << (RING_BITS - k)) - 1)


def msb(x: torch.Tensor) -> torch.Tensor:
    """Most significant bit (the sign bit of the signed view) as 0/1 int64."""
    return (x < 0).to(DTYPE)


def low_bits(x: torch.Tensor, k: int) -> torch.Tensor:
    """x mod 2^k as a non-negative int64 (k < 64)."""
    return x & ((1 << k) - 1)


def wrap_int(v: int) -> int:
    """A Python integer reduced to the signed int64 representative of its class mod 2^64."""
    v &= (1 << RING_BITS) - 1
    return v - (1 << RING_BITS) if v >= 1 << (RING_BITS - 1) else v
