"""T5 attention with a Merge Module: q, k and the relative position bias are dropped (positions
are what M is indexed by)."""

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


class T5Merge:
    """Forward of a T5Attention whose weights come from its MergeModule (returns T5's triple)."""

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None,
                key_value_states: torch.Tensor | None = None, position_bias: torch.Tensor | None = None,
                past_key_values: object = None, cache: object = None,
                **kwargs: object) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        # transformers >= 5.24 passes the cache as `cache`, earlier versions as `past_key_values`
        past_key_values = cache if cache is not None else past_key_values
        q_len = hidden_states.shape[-2]
        if key_value_states is not None:
            value, memo = cross_values(self, past_key_values, self.v, key_value_states, self.key_value_proj_dim)
            q_start, causal = decoder_offset(past_key_values, self.layer_idx, q_len), False
        else:
            shape = (*hidden_states.shape[:-1], -1, self.key_value_proj_dim)
            value = self.v(hidden_states).view(shape).transpose(1, 2)
            value, memo = cache_values(self_cache(past_key_values), value, self.layer_idx)
            q_start, causal = value.shape[-2] - q_len, bool(self.is_causal)
        keep = keep_mask(mask, q_start, q_len, value.shape[-2], causal)
        out, weights = self.merge(value, q_start, q_len, keep, memo)
        out = out.transpose(1, 2).reshape(*hidden_states.shape[:-1], -1).contiguous()
        return self.o(out), position_bias, weights


def convert(attn: torch.nn.Module, max_len: int, variant: str) -> None:
    """Turn a T5Attention into its Merge Module form in place."""
    del attn.q, attn.k
    if attn.has_relative_attention_bias:
        del attn.relative_attention_bias
        attn.has_relative_attention_bias = False
    attn.merge = MergeModule(attn.n_heads, max_len, variant)
    swap_class(attn, T5Merge)
