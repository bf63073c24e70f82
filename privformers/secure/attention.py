"""Grouped-query attention on secret shares, as a Hugging Face attention implementation.

Llama-family attention modules call ``ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation,
eager_attention_forward)``. Their eager function first repeats each key and value head for its group of
query heads (``repeat_kv``), which under MPC would open every repeated copy in the products' Beaver
openings: n_rep times the bytes of the cache. ``grouped_attention`` computes the same function with the
query heads of a group stacked as rows instead (q: (b, kv_heads, n_rep * q_len, d)), so keys and values
are opened once per KV head, and the cache holds only the KV heads.

``use_secure_attention`` switches a model built with ``attn_implementation="eager"`` to it (every party
makes the same change; the model classes are unchanged), registering the name with the attention and
mask interfaces (its masks are eager's: additive, public). Masks, positions and sliding windows are
public: a window (Mistral, Qwen2, Gemma 2 and 3) is part of the public mask, so it is supported as is
(the cache keeps every position; the mask hides those outside the window). Gemma 2's logit softcapping
runs through the engine's tanh. Attention sinks and dropout in training mode are refused by name.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from privformers.models.support import APPROX_ATTENTION as APPROX  # privformers.approx's (a converted model's own)
from privformers.models.support import SECURE_ATTENTION as NAME
from privformers.secure.registry import UnsupportedOpError


def grouped_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                      softcap: float | None = None, s_aux: torch.Tensor | None = None,
                      **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T * scaling (+ mask)) v for query (b, h, q, d) and key/value (b, kv_heads, s, d), with
    query head j * n_rep + r reading KV head j (as ``repeat_kv``). Returns (output (b, q, h, d), probabilities).

    Cost: that of eager attention on the KV heads: one Beaver opening of the keys and one of the values per
    KV head (not per query head) in the two products, and the softmax over (b, h, q, s) scores."""
    if dropout and module.training:
        raise UnsupportedOpError("attention dropout in training mode: call model.eval()")
    if s_aux is not None:
        raise UnsupportedOpError(f"attention sinks (s_aux) in {type(module).__name__}")
    if scaling is None:
        scaling = module.head_dim**-0.5
    b, h, q, d = query.shape
    kv_heads = key.shape[1]
    if h % kv_heads:
        raise UnsupportedOpError(f"{h} query heads do not split into groups over {kv_heads} KV heads")
    n_rep = h // kv_heads
    grouped = query.reshape(b, kv_heads, n_rep * q, d)
    scores = torch.matmul(grouped, key.transpose(2, 3)).reshape(b, h, q, key.shape[-2]) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]]
    probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32)
    out = torch.matmul(probs.reshape(b, kv_heads, n_rep * q, key.shape[-2]), value).reshape(b, h, q, d)
    return out.transpose(1, 2).contiguous(), probs


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, grouped_attention)
    AttentionMaskInterface.register(NAME, eager_mask)


def uses_grouped_heads(model: nn.Module) -> bool:
    """Whether the model's attention modules are Llama-style (``num_key_value_groups``)."""
    return any(hasattr(m, "num_key_value_groups") for m in model.modules())


def use_secure_attention(model: nn.Module) -> bool:
    """Switch a Llama-family model (attention modules with ``num_key_value_groups``) from eager attention to
    ``grouped_attention``, in place; returns whether it did. Any other attention implementation (sdpa, flash,
    flex) is refused by name: its kernels cannot run on shares."""
    if not uses_grouped_heads(model):
        return False
    configs = {id(m.config): m.config for m in model.modules() if hasattr(m, "config")}
    impls = {getattr(config, "_attn_implementation", None) for config in configs.values()}
    if APPROX in impls:
        return False   # converted by an approximation recipe: its own attention (privformers.approx)
    bad = impls - {None, "eager", NAME}
    if bad:
        raise UnsupportedOpError(f"attention implementation {sorted(bad)[0]!r}: only 'eager' runs under MPC "
                                 "(build the model with attn_implementation='eager')")
    _register()
    copies = {key: copy.deepcopy(config) for key, config in configs.items()}   # the factory's config may be shared
    for config in copies.values():
        config._attn_implementation = NAME
    for m in model.modules():
        if hasattr(m, "config") and id(m.config) in copies:
            m.config = copies[id(m.config)]
    return True
