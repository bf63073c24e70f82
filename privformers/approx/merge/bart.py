"""BART attention (encoder, decoder and cross) with a Merge Module: q_proj and k_proj are dropped."""

from __future__ import annotations

import torch

from privformers.approx.merge.common import (
    cache_values,
    cross_values,
    decoder_offset,
    keep_mask,
    self_cache,
    swap_class,
)
from privformers.approx.merge.module import MergeModule


class BartMerge:
    """Forward of a BartAttention whose weights come from its MergeModule."""

    def forward(self, hidden_states: torch.Tensor, key_value_states: torch.Tensor | None = None,
                past_key_values: object = None, cache: object = None, attention_mask: torch.Tensor | None = None,
                **kwargs: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        # transformers >= 5.24 passes the cache as `cache`, earlier versions as `past_key_values`
        past_key_values = cache if cache is not None else past_key_values
        q_len = hidden_states.shape[-2]
        if key_value_states is not None:
            value, memo = cross_values(self, past_key_values, self.v_proj, key_value_states, self.head_dim)
            q_start, causal = decoder_offset(past_key_values, self.layer_idx, q_len), False
        else:
            value = self.v_proj(hidden_states).view(*hidden_states.shape[:-1], -1, self.head_dim).transpose(1, 2)
            value, memo = cache_values(self_cache(past_key_values), value, self.layer_idx)
            q_start, causal = value.shape[-2] - q_len, bool(self.is_causal)
        keep = keep_mask(attention_mask, q_start, q_len, value.shape[-2], causal)
        out, weights = self.merge(value, q_start, q_len, keep, memo)
        out = out.transpose(1, 2).reshape(*hidden_states.shape[:-1], -1).contiguous()
        return self.out_proj(out), weights


def convert(attn: torch.nn.Module, max_len: int, variant: str) -> None:
    """Turn a BartAttention into its Merge Module form in place."""
    del attn.q_proj, attn.k_proj
    attn.merge = MergeModule(attn.num_heads, max_len, variant)
    swap_class(attn, BartMerge)
