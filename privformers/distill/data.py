"""Training batches for distillation from data files, tokenized with the teacher's tokenizer."""

from __future__ import annotations

import torch

from privformers.data.registry import read_labelled, read_pairs
from privformers.lm.batches import collate, encode_pair


def classification_batches(tokenizer, task: str, path: str, batch_size: int, max_length: int,
                           limit: int | None = None) -> list[dict[str, torch.Tensor]]:
    """Padded input_ids / attention_mask batches of a labelled text file (labels unused: the teacher labels)."""
    texts = [item.text for item in read_labelled(task, path)][:limit]
    return [dict(tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt"))
            for i in range(0, len(texts), batch_size)]


def lm_batches(tokenizer, task: str, path: str, batch_size: int, max_length: int,
               limit: int | None = None) -> list[dict[str, torch.Tensor]]:
    """``prompt = target<eos>`` batches of a data-to-text file (labels mask the prompt), as train-lm builds them."""
    if tokenizer.pad_token_id is None:
        raise ValueError("the teacher's tokenizer has no pad token")
    encoded = [encode_pair(tokenizer, p, max_length) for p in read_pairs(task, path)][:limit]
    return [collate(encoded[i:i + batch_size], tokenizer.pad_token_id) for i in range(0, len(encoded), batch_size)]
