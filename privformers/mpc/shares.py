"""Additive arithmetic shares over Z_2^64: x = x_client + x_server (mod 2^64).

Local operations (adding shares, adding or multiplying by public values, reshaping) need no
communication; products of two shares and truncation are protocols in ``protocols/``.
On the dealer and in offline passes the share data is a shape-only meta tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.mpc.party import CLIENT, Party
from privformers.mpc.ring import DTYPE
from privformers.mpc.ringmath import ring_matmul


def _public(t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor | int:
    if isinstance(t, torch.Tensor) and like.is_meta and not t.is_meta:
        return t.to("meta")
    return t


class AShare:
    """One party's additive share of a secret fixed-point tensor."""

    __slots__ = ("party", "data")

    def __init__(self, party: Party, data: torch.Tensor) -> None:
        if data.dtype != DTYPE:
            raise TypeError(f"share data must be int64, got {data.dtype}")
        self.party = party
        self.data = data

    # -- shape ----------------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return self.data.shape

    def dim(self) -> int:
        return self.data.dim()

    def numel(self) -> int:
        return self.data.numel()

    def _wrap(self, data: torch.Tensor) -> AShare:
        return AShare(self.party, data)

    def reshape(self, *shape: int) -> AShare:
        return self._wrap(self.data.reshape(*shape))

    view = reshape

    def transpose(self, a: int, b: int) -> AShare:
        return self._wrap(self.data.transpose(a, b))

    def permute(self, *dims: int) -> AShare:
        return self._wrap(self.data.permute(*dims))

    def unsqueeze(self, d: int) -> AShare:
        return self._wrap(self.data.unsqueeze(d))

    def squeeze(self, d: int) -> AShare:
        return self._wrap(self.data.squeeze(d))

    def expand(self, *shape: int) -> AShare:
        return self._wrap(self.data.expand(*shape))

    def contiguous(self) -> AShare:
        return self._wrap(self.data.contiguous())

    def flatten(self, start: int = 0, end: int = -1) -> AShare:
        return self._wrap(self.data.flatten(start, end))

    def __getitem__(self, idx) -> AShare:
        return self._wrap(self.data[idx])

    def sum(self, dim: int | None = None, keepdim: bool = False) -> AShare:
        if dim is None:
            return self._wrap(self.data.sum())
        return self._wrap(self.data.sum(dim, keepdim=keepdim))

    def split(self, size: int | list[int], dim: int = 0) -> tuple[AShare, ...]:
        return tuple(self._wrap(d) for d in self.data.split(size, dim))

    def chunk(self, n: int, dim: int = 0) -> tuple[AShare, ...]:
        return tuple(self._wrap(d) for d in self.data.chunk(n, dim))

    def roll(self, shifts: int, dims: int) -> AShare:
        return self._wrap(self.data.roll(shifts, dims))

    # -- local arithmetic -----------------------------------------------------
    def __add__(self, other: AShare | torch.Tensor | int) -> AShare:
        if isinstance(other, AShare):
            return self._wrap(self.data + other.data)
        return self.add_public(other)

    __radd__ = __add__

    def __sub__(self, other: AShare | torch.Tensor | int) -> AShare:
        if isinstance(other, AShare):
            return self._wrap(self.data - other.data)
        return self.add_public(-other)

    def __rsub__(self, other: torch.Tensor | int) -> AShare:
        return (-self).add_public(other)

    def __neg__(self) -> AShare:
        return self._wrap(-self.data)

    def add_public(self, value: torch.Tensor | int) -> AShare:
        """Add a public ring value: only the client adds it, so the sum shifts by value once."""
        value = _public(value, self.data)
        if self.party.symbolic or self.party.role == CLIENT:
            return self._wrap(self.data + value)
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != self.data.shape:
            shape = torch.broadcast_shapes(self.data.shape, value.shape)   # slow Python: only when it can change
            return self._wrap(self.data.expand(shape).clone())
        return self._wrap(self.data.clone())

    def mul_public(self, value: torch.Tensor | int) -> AShare:
        """Multiply by a public ring value (no truncation: the scale adds up)."""
        return self._wrap(self.data * _public(value, self.data))

    def matmul_public(self, value: torch.Tensor) -> AShare:
        """Multiply on the right by a public ring matrix (no truncation)."""
        return self._wrap(ring_matmul(self.data, _public(value, self.data)))

    def lshift(self, k: int) -> AShare:
        """Multiply by 2^k (exact in the ring)."""
        return self._wrap(self.data << k)

    def __repr__(self) -> str:
        return f"AShare({self.party.role}, shape={tuple(self.shape)})"


def cat(xs: Sequence[AShare], dim: int = 0) -> AShare:
    """Concatenate shares (local)."""
    return AShare(xs[0].party, torch.cat([x.data for x in xs], dim))


def stack(xs: Sequence[AShare], dim: int = 0) -> AShare:
    """Stack shares (local)."""
    return AShare(xs[0].party, torch.stack([x.data for x in xs], dim))


def where_public(mask: torch.Tensor, a: AShare, b: AShare) -> AShare:
    """Select by a public boolean mask (local)."""
    return AShare(a.party, torch.where(_public(mask, a.data), a.data, b.data))
