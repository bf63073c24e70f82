"""Plaintext greedy decoding, as the secure runtime decodes a model (Embedding Resending for a model converted
with it): the reference the secure tokens must equal."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.approx.convert import recipe_of
from privformers.approx.resending import head_logits, resend_greedy
from privformers.hf import decoder_start

SUPPRESSED_LOGIT = 1024.0   # what a suppressed token's logit loses (logits of a trained LM lie within +-100)


def plain_greedy(model: torch.nn.Module, prompt: list[int], max_new_tokens: int,
                 stop_token: int | None = None, suppress: Sequence[int] = ()) -> tuple[list[int], list[float]]:
    """Greedy tokens (full recompute each step) and each step's gap between the top two logits.
    A model converted with Embedding Resending generates as ``resend_greedy`` does. With
    ``stop_token`` decoding ends once that token is generated (it is included). The ids in ``suppress``
    are never chosen (as under MPC: their logits lowered by ``SUPPRESSED_LOGIT``)."""
    recipe = recipe_of(model)
    if recipe is not None and recipe.resend:
        if suppress:
            raise ValueError("suppressed tokens are not supported by the plaintext Embedding Resending reference")
        tokens, hidden = resend_greedy(model, prompt, max_new_tokens, stop_token)
        with torch.no_grad():
            top = head_logits(model, hidden).double().topk(2, -1).values
        return tokens, (top[:, 0] - top[:, 1]).tolist()
    seq2seq = model.config.is_encoder_decoder
    tokens: list[int] = []
    gaps: list[float] = []
    ids = torch.tensor([[decoder_start(model.config)]]) if seq2seq else torch.tensor([prompt])
    with torch.no_grad():
        for _ in range(max_new_tokens):
            extra = {"decoder_input_ids": ids, "input_ids": torch.tensor([prompt])} if seq2seq else {"input_ids": ids}
            logits = model(**extra).logits[0, -1].double()
            if suppress:
                logits = logits.index_add(0, torch.tensor(list(suppress)),
                                          torch.full((len(suppress),), -SUPPRESSED_LOGIT, dtype=logits.dtype))
            top = logits.topk(2).values
            tokens.append(int(logits.argmax()))
            gaps.append(float(top[0] - top[1]))
            if tokens[-1] == stop_token:
                break
            ids = torch.cat([ids, torch.tensor([[tokens[-1]]])], 1)
    return tokens, gaps
