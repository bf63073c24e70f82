"""A KV cache whose keys and values are secret tensors (HF ``DynamicCache`` with a secret-aware layer).

The cached rows are held (``mpc/protocols/held.py``): each row is masked once, when it enters the
cache, and opened the first time attention reads it, in the same round as the query's opening; a
decode step's products with the cache then open only the new row, not every cached one (at GPT-2
base width with 36 cached positions: about 0.9 MB less per layer and step). Rows are kept as the
projections made them, untruncated: the products' one truncation covers them.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from privformers.mpc.protocols.held import HeldRows, HeldView
from privformers.mpc.shares import AShare
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import secret, settle


class HeldTensor:
    """One cached tensor (keys or values): its rows masked once, along the sequence dimension."""

    def __init__(self, first: SecretTensor) -> None:
        self.dim = first.dim() - 2   # (batch, heads, sequence, width)
        self.base = HeldRows(first.party, self.dim, first.pending)
        self.value: SecretTensor | None = None
        self.append(first)

    def append(self, rows: SecretTensor) -> SecretTensor:
        """Add a step's rows (truncated first only if they carry more pending bits than the first ones)."""
        if rows.pending < self.base.scale:
            raise ValueError(f"cached rows at {rows.pending} pending bits after rows at {self.base.scale}")
        raw = rows.raw
        if rows.pending > self.base.scale:
            from privformers.mpc.protocols.trunc import trunc

            raw = trunc(raw, rows.pending - self.base.scale)
        self.base.append(raw)
        data = raw.data if self.value is None else torch.cat([self.value.raw.data, raw.data], self.dim)
        self.value = secret(AShare(raw.party, data), pending=self.base.scale, scope="linear")
        self.value.held = HeldView(self.base)
        return self.value


def stored_pending(*rows: torch.Tensor) -> int:
    """Pending bits a step's keys and values keep in the cache. Fresh projections carry f: kept, with no
    round (the products' one truncation covers them). Rotary leaves the keys at 2f, which a held product
    cannot carry (4f overflows the ring): a truncation round is due then, and it takes keys and values
    to the working scale together, so the attention output needs no extra truncation either."""
    f = rows[0].party.fp.frac_bits
    return f if all(getattr(r, "pending", 0) <= f for r in rows) else 0


class SecretLayer(DynamicLayer):
    """One layer's keys and values, held: the first update stores the secrets, later ones append."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object,
               **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new keys and values along the sequence (no communication: their masks come from
        the dealer streams; attention opens them once)."""
        settle(key_states, value_states, keep=stored_pending(key_states, value_states))
        if not self.is_initialized or self.keys is None:
            self.lazy_initialization(key_states, value_states)
            self._held = (HeldTensor(key_states), HeldTensor(value_states))
            self.keys, self.values = self._held[0].value, self._held[1].value
        else:
            self.keys = self._held[0].append(key_states)
            self.values = self._held[1].append(value_states)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        """Number of cached positions (public)."""
        return 0 if self.keys is None else self.keys.shape[-2]


class SecretCache(DynamicCache):
    """A dynamic cache of secret keys and values, one ``SecretLayer`` per decoder layer."""

    def __init__(self) -> None:
        Cache.__init__(self, layer_class_to_replicate=SecretLayer)
