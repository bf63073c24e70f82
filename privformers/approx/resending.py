"""MERGE's Embedding Resending (ER): in generation, the next step's input embedding is the last
position's final hidden state of the previous step, not the embedding of the chosen token.

No vocabulary-sized work happens inside the loop (no LM head, argmax or one-hot lookup); the LM
head runs once at the end over the N collected final states, giving the N tokens. A model is
trained for this (MERGE: a cosine-embedding loss pulls the final state at t toward the input
embedding of token t+1), so the untrained teacher's ER tokens differ from its greedy tokens.

Step t's input: step 0 the prompt (decoder-only) or the decoder start token (encoder-decoder),
then h_{t-1}. Position embeddings are added by the model as usual. These helpers are plain code:
``resend_greedy`` is the plaintext reference the secure generation loop must match.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from privformers.hf import decoder_start
from privformers.kv_cache import cache_kwargs, returned_cache


def embed(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """Word embeddings of ids as the decoder reads them (BART's scaling included)."""
    return model.get_decoder().get_input_embeddings()(ids)


def encode(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """An encoder-decoder's encoder output for the prompt."""
    return model.get_encoder()(input_ids=input_ids).last_hidden_state


def final_hidden(model: nn.Module, inputs_embeds: torch.Tensor, encoder_states: torch.Tensor | None = None,
                 **kwargs: Any) -> Any:
    """The decoder's output (last hidden state and cache) for input embeddings, no LM head."""
    extra = {} if encoder_states is None else {"encoder_hidden_states": encoder_states}
    return model.get_decoder()(inputs_embeds=inputs_embeds, **extra, **kwargs)


def head_logits(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The LM head on final hidden states, as the model's own forward applies it."""
    config = model.config
    if config.model_type == "t5" and getattr(config, "tie_word_embeddings", True):
        hidden = hidden * (config.d_model ** -0.5)
    logits = model.get_output_embeddings()(hidden)
    bias = getattr(model, "final_logits_bias", None)
    return logits if bias is None else logits + bias


def start_ids(model: nn.Module, prompt: list[int]) -> list[int]:
    """Step 0's decoder tokens: the prompt, or an encoder-decoder's start token."""
    if not model.config.is_encoder_decoder:
        return list(prompt)
    return [decoder_start(model.config)]


@torch.no_grad()
def resend_greedy(model: nn.Module, prompt: list[int], max_new_tokens: int,
                  stop_token: int | None = None) -> tuple[list[int], torch.Tensor]:
    """Plaintext ER generation with a KV cache: (tokens, final hidden states (N, d)). With
    ``stop_token`` the loop ends after the step whose state decodes to it (evaluation only: the
    secure loop runs all steps, since it cannot see the tokens)."""
    model = model.eval()
    enc = encode(model, torch.tensor([prompt])) if model.config.is_encoder_decoder else None
    x = embed(model, torch.tensor([start_ids(model, prompt)]))
    past, states = None, []
    for _ in range(max_new_tokens):
        out = final_hidden(model, x, enc, **cache_kwargs(model.get_decoder(), past), use_cache=True)
        past, x = returned_cache(out), out.last_hidden_state[:, -1:]
        states.append(x)
        if stop_token is not None and int(head_logits(model, x)[0, -1].argmax()) == stop_token:
            break
    hidden = torch.cat(states, 1)
    return head_logits(model, hidden)[0].argmax(-1).tolist(), hidden[0]
