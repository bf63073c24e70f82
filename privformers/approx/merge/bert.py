"""BERT / RoBERTa self-attention with a Merge Module: the query and key projections are dropped."""

from __future__ import annotations

import torch

from privformers.approx.merge.common import cache_values, keep_mask, self_cache, swap_class
from privformers.approx.merge.module import MergeModule


class BertMerge:
    """Forward of a BertSelfAttention (or RobertaSelfAttention) whose weights come from its MergeModule."""

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                past_key_values: object = None, cache: object = None,
                **kwargs: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        # transformers >= 5.24 passes the cache as `cache`, earlier versions as `past_key_values`
        past_key_values = cache if cache is not None else past_key_values
        shape = (*hidden_states.shape[:-1], -1, self.attention_head_size)
        value = self.value(hidden_states).view(shape).transpose(1, 2)
        value, memo = cache_values(self_cache(past_key_values), value, self.layer_idx)
        q_len, kv_len = hidden_states.shape[-2], value.shape[-2]
        keep = keep_mask(attention_mask, kv_len - q_len, q_len, kv_len, causal=bool(self.is_causal))
        out, weights = self.merge(value, kv_len - q_len, q_len, keep, memo)
        return out.transpose(1, 2).reshape(*hidden_states.shape[:-1], -1).contiguous(), weights


def convert(attn: torch.nn.Module, max_len: int, variant: str) -> None:
    """Turn a BertSelfAttention / RobertaSelfAttention into its Merge Module form in place."""
    del attn.query, attn.key
    attn.merge = MergeModule(attn.num_attention_heads, max_len, variant)
    swap_class(attn, BertMerge)
