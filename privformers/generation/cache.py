"""A KV cache whose keys and values are secret tensors (HF ``DynamicCache`` with a secret-aware layer)."""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer

from privformers.secure.values import settle


class SecretLayer(DynamicLayer):
    """One layer's keys and values: the first update stores the secrets, later ones concatenate."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object,
               **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new keys and values along the sequence (a local op on shares). Keys and values still
        to be truncated (projections, rotary) are truncated first, together in one round."""
        settle(key_states, value_states)
        if not self.is_initialized or self.keys is None:
            self.lazy_initialization(key_states, value_states)
            self.keys, self.values = key_states, value_states
        else:
            self.keys = torch.cat([self.keys, key_states], dim=-2)
            self.values = torch.cat([self.values, value_states], dim=-2)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        """Number of cached positions (public)."""
        return 0 if self.keys is None else self.keys.shape[-2]


class SecretCache(DynamicCache):
    """A dynamic cache of secret keys and values, one ``SecretLayer`` per decoder layer."""

    def __init__(self) -> None:
        Cache.__init__(self, layer_class_to_replicate=SecretLayer)
