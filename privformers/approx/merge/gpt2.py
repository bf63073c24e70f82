"""GPT-2 attention with a Merge Module: only the value part of c_attn is kept (as v_attn)."""

from __future__ import annotations

import torch
from transformers.pytorch_utils import Conv1D

from privformers.approx.merge.common import cache_values, keep_mask, self_cache, swap_class
from privformers.approx.merge.module import MergeModule


class GPT2Merge:
    """Forward of a GPT2Attention whose weights come from its MergeModule."""

    def forward(self, hidden_states: torch.Tensor, past_key_values: object = None, cache: object = None,
                attention_mask: torch.Tensor | None = None, encoder_hidden_states: torch.Tensor | None = None,
                encoder_attention_mask: torch.Tensor | None = None, output_attentions: bool = False,
                **kwargs: object) -> tuple[torch.Tensor, torch.Tensor | None]:
        # transformers >= 5.24 passes the cache as `cache`, earlier versions as `past_key_values`
        past_key_values = cache if cache is not None else past_key_values
        if encoder_hidden_states is not None:
            raise NotImplementedError("Merge Module: GPT-2 cross-attention is not supported")
        shape = (*hidden_states.shape[:-1], -1, self.head_dim)
        value = self.v_attn(hidden_states).view(shape).transpose(1, 2)
        value, memo = cache_values(self_cache(past_key_values), value, self.layer_idx)
        q_len, kv_len = hidden_states.shape[-2], value.shape[-2]
        keep = keep_mask(attention_mask, kv_len - q_len, q_len, kv_len, causal=True)
        out, weights = self.merge(value, kv_len - q_len, q_len, keep, memo)
        out = out.transpose(1, 2).reshape(*hidden_states.shape[:-1], -1).contiguous()
        return self.resid_dropout(self.c_proj(out)), weights


def convert(attn: torch.nn.Module, max_len: int, variant: str) -> None:
    """Turn a GPT2Attention into its Merge Module form in place (query and key weights dropped)."""
    if attn.is_cross_attention:
        raise NotImplementedError("Merge Module: GPT-2 cross-attention is not supported")
    d = attn.embed_dim
    v = Conv1D(d, d)
    with torch.no_grad():
        v.weight.copy_(attn.c_attn.weight[:, 2 * d:])
        v.bias.copy_(attn.c_attn.bias[2 * d:])
    del attn.c_attn
    attn.v_attn = v.to(attn.c_proj.weight.dtype)
    attn.merge = MergeModule(attn.num_heads, max_len, variant)
    swap_class(attn, GPT2Merge)
