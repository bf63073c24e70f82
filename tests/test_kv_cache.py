"""The KV cache is passed and read under the name the installed transformers uses, without warnings."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.modeling_outputs import ModelOutput

from privformers.kv_cache import cache_kwargs, returned_cache


class NewName(nn.Module):
    def forward(self, x: torch.Tensor, cache: object = None) -> torch.Tensor:
        return x


class OldName(nn.Module):
    def forward(self, x: torch.Tensor, past_key_values: object = None) -> torch.Tensor:
        return x


def test_cache_kwargs_follows_the_forward_signature() -> None:
    marker = object()
    assert cache_kwargs(NewName(), marker) == {"cache": marker}
    assert cache_kwargs(OldName(), marker) == {"past_key_values": marker}


def test_returned_cache_reads_either_field() -> None:
    marker = object()
    assert returned_cache(ModelOutput(cache=marker)) is marker
    assert returned_cache(ModelOutput(past_key_values=marker)) is marker
    assert returned_cache(ModelOutput(logits=torch.zeros(1))) is None


def test_cached_decode_step_with_the_installed_transformers_warns_nothing() -> None:
    """Prefill then one cached step equals rerunning the sequence, with no deprecation warning."""
    torch.manual_seed(0)
    config = GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=16,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        full = model(ids).logits[:, -1]
        cache = returned_cache(model(ids[:, :-1], use_cache=True))
        step = model(ids[:, -1:], **cache_kwargs(model, cache), use_cache=True).logits[:, -1]
    assert cache is not None
    assert torch.allclose(full, step, atol=1e-5)
