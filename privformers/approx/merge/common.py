"""What the per-family Merge Module attentions share: class swapping, the value cache, keep-masks."""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import Cache, EncoderDecoderCache

from privformers.approx.masks import causal_keep, keep_from_additive

_CLASSES: dict[tuple[type, type], type] = {}


def swap_class(module: nn.Module, mixin: type) -> None:
    """Give module a subclass of its own class whose forward is the mixin's (Hugging Face's output
    recorders match attention modules by isinstance, so attentions stay recordable)."""
    base = type(module)
    key = (base, mixin)
    if key not in _CLASSES:
        _CLASSES[key] = type(f"Merge{base.__name__}", (mixin, base), {"__module__": mixin.__module__})
    module.__class__ = _CLASSES[key]


def self_cache(past_key_values: Cache | None) -> Cache | None:
    if isinstance(past_key_values, EncoderDecoderCache):
        return past_key_values.self_attention_cache
    return past_key_values


def cache_values(cache: Cache | None, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, dict | None]:
    """Append this step's values to the layer's cache: (all values, the layer's memo). Keys are not
    needed: a one-column slice of the values stands in for them (the cache measures its length on the keys)."""
    if cache is None:
        return value, None
    _, value = cache.update(value[..., :1], value, layer_idx)
    return value, values_memo(cache, layer_idx)


def values_memo(cache: Cache | None, layer_idx: int) -> dict | None:
    """A dict that lives as long as the layer's cached values (None without a cache): the secure
    runtime keeps there what it needs to reuse the cached values' masks across decode steps."""
    if cache is None:
        return None
    layer = cache.layers[layer_idx]
    if not hasattr(layer, "merge_memo"):
        layer.merge_memo = {}
    return layer.merge_memo


def cross_values(module: nn.Module, past_key_values: Cache | None, project: nn.Module,
                 states: torch.Tensor, shape_dim: int) -> tuple[torch.Tensor, dict | None]:
    """Cross-attention values (and their memo): projected once from the encoder states, then read from the cache."""
    cache = past_key_values.cross_attention_cache if isinstance(past_key_values, EncoderDecoderCache) else None
    if cache is not None and past_key_values.is_updated.get(module.layer_idx):
        return cache.layers[module.layer_idx].values, values_memo(cache, module.layer_idx)
    value = project(states).view(*states.shape[:-1], -1, shape_dim).transpose(1, 2)
    if cache is None:
        return value, None
    past_key_values.is_updated[module.layer_idx] = True
    return cache_values(cache, value, module.layer_idx)


def decoder_offset(past_key_values: Cache | None, layer_idx: int, q_len: int) -> int:
    """Position of the first query of a cross-attention call (the self-attention cache already holds it)."""
    cache = self_cache(past_key_values)
    return 0 if cache is None else cache.get_seq_length(layer_idx) - q_len


def keep_mask(mask: torch.Tensor | None, q_start: int, q_len: int, kv_len: int, causal: bool) -> torch.Tensor | None:
    """The public keep-mask: from the model's attention mask, else causal (decoders) or None (everything)."""
    keep = keep_from_additive(mask)
    if keep is None and causal:
        keep = causal_keep(q_start, q_len, kv_len)
    return keep
