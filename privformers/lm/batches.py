"""Turn (source, target) pairs into padded training batches whose loss covers only the target."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from privformers.data.examples import TextPair
from privformers.lm.prompt import format_prompt, format_target

IGNORE_INDEX = -100


def encode_pair(tokenizer, pair: TextPair, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of ``prompt target <eos>`` and labels that mask the prompt; truncated to ``max_length``."""
    prompt = tokenizer(format_prompt(pair.source), add_special_tokens=False)["input_ids"]
    target = tokenizer(format_target(pair.target), add_special_tokens=False)["input_ids"]
    ids = (prompt + target + [tokenizer.eos_token_id])[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt) + target + [tokenizer.eos_token_id])[:max_length]
    return ids, labels


def collate(encoded: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of (ids, labels) into input_ids, attention_mask and labels tensors."""
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id)
    labels = torch.full((len(encoded), width), IGNORE_INDEX)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
