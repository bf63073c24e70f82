"""Plaintext greedy decoding: the reference the secure tokens must equal."""

from __future__ import annotations

import torch


def plain_greedy(model: torch.nn.Module, prompt: list[int], max_new_tokens: int) -> tuple[list[int], list[float]]:
    """Greedy tokens (full recompute each step) and each step's gap between the top two logits."""
    ids, tokens, gaps = torch.tensor([prompt]), [], []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(input_ids=ids).logits[0, -1].double()
            top = logits.topk(2).values
            tokens.append(int(logits.argmax()))
            gaps.append(float(top[0] - top[1]))
            ids = torch.cat([ids, torch.tensor([[tokens[-1]]])], 1)
    return tokens, gaps
