"""dp-train's examples: TSV ``sentence\\tlabel`` classification; data-to-text pairs in train-lm's format."""

from __future__ import annotations

import csv
from pathlib import Path

import torch


def read_classification_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Sentences and integer labels from a TSV with header ``sentence\\tlabel``."""
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:2]] != ["sentence", "label"]:
            raise ValueError(f"{path}: expected a TSV with header 'sentence<TAB>label', got {header}")
        for line, row in enumerate(reader, start=2):
            if len(row) < 2:
                raise ValueError(f"{path}:{line}: expected 2 tab-separated fields, got {row}")
            texts.append(row[0].strip())
            labels.append(int(row[1]))
    return texts, labels


def encode_classification(tokenizer, texts: list[str], labels: list[int], max_length: int) -> list[dict]:
    """Tokenised examples ``{input_ids, attention_mask, labels}`` (unpadded)."""
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    return [{"input_ids": i, "attention_mask": m, "labels": y}
            for i, m, y in zip(enc["input_ids"], enc["attention_mask"], labels)]


def encode_pairs(tokenizer, pairs, max_length: int) -> list[dict]:
    """``source = target<eos>`` examples (``train-lm``'s format) with the loss on the target only."""
    from privformers.lm.batches import encode_pair

    examples = []
    for pair in pairs:
        ids, labels = encode_pair(tokenizer, pair, max_length)
        examples.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return examples


def _pad(values: list[int], fill: int, width: int) -> list[int]:
    return values + [fill] * (width - len(values))


def pad_collate(pad_id: int):
    """Collate that right-pads input_ids (pad_id), attention_mask (0) and sequence labels (-100)."""

    def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        batch = {
            "input_ids": torch.tensor([_pad(e["input_ids"], pad_id, width) for e in examples]),
            "attention_mask": torch.tensor([_pad(e["attention_mask"], 0, width) for e in examples]),
        }
        if isinstance(examples[0]["labels"], list):
            batch["labels"] = torch.tensor([_pad(e["labels"], -100, width) for e in examples])
        else:
            batch["labels"] = torch.tensor([e["labels"] for e in examples])
        return batch

    return collate
