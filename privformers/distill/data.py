"""Training batches for distillation from data files, tokenized with the teacher's tokenizer."""

from __future__ import annotations

import torch

from privformers.data.registry import read_labelled, read_pairs
from privformers.data.splits import SPLIT_NAMES, split_by_source
from privformers.lm.batches import collate, encode_pair


def classification_batches(tokenizer, task: str, path: str, batch_size: int, max_length: int,
                           limit: int | None = None) -> list[dict[str, torch.Tensor]]:
    """Padded input_ids / attention_mask batches of a labelled text file (labels unused: the teacher labels)."""
    texts = [item.text for item in read_labelled(task, path)][:limit]
    return [dict(tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                           return_tensors="pt"))
            for i in range(0, len(texts), batch_size)]


def lm_batches(tokenizer, task: str, path: str, batch_size: int, max_length: int,
               limit: int | None = None, split: str = "train", validation_fraction: float = 0.05,
               test_fraction: float = 0.10, split_seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """``prompt = target<eos>`` batches of a data-to-text file (labels mask the prompt), as train-lm builds them.

    ``split`` keeps one part of train-lm's split by source (same fractions and seed), so a student is
    not trained on the sources its teacher was tested on; ``all`` uses the whole file."""
    if tokenizer.pad_token_id is None:
        raise ValueError("the teacher's tokenizer has no pad token")
    pairs = read_pairs(task, path)
    if split != "all":
        if split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join((*SPLIT_NAMES, 'all'))}")
        pairs = split_by_source(pairs, validation_fraction, test_fraction, split_seed)[split]
    encoded = [encode_pair(tokenizer, p, max_length) for p in pairs][:limit]
    return [collate(encoded[i:i + batch_size], tokenizer.pad_token_id) for i in range(0, len(encoded), batch_size)]
