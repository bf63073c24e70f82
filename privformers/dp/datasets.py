"""dp-train's examples: TSV ``sentence\\tlabel`` classification; data-to-text pairs in train-lm's format."""

from __future__ import annotations

from pathlib import Path

import torch

from privformers.data.errors import DataFormatError, bad_line


def read_classification_tsv(path: str | Path) -> tuple[list[str], list[int]]:
    """Sentences and integer labels from a UTF-8 TSV with header ``sentence\tlabel``; blank lines are skipped.

    A malformed line is a DataFormatError that names the file, the line number and what is wrong,
    never the line's content: training data is what DP protects, and error messages end up in
    terminals, logs and bug reports. Nothing is chained to the error (``from None``), so no
    traceback carries the row either."""
    path = Path(path)
    texts, labels = [], []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise bad_line(path, number, "not valid UTF-8 text") from None
            if number == 1:
                if [h.strip() for h in line.split("\t")[:2]] != ["sentence", "label"]:
                    raise bad_line(path, 1, "expected the header 'sentence<TAB>label'")
                continue
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 2:
                raise bad_line(path, number, "expected TEXT<TAB>LABEL, found no tab")
            label = fields[1].strip()
            if not (label.isascii() and label.isdecimal()):
                raise bad_line(path, number, "expected TEXT<TAB>LABEL, the label is not a whole number >= 0")
            texts.append(fields[0].strip())
            labels.append(int(label))
    if not texts:
        raise DataFormatError(f"{path}: no rows (expected a header 'sentence<TAB>label', then TEXT<TAB>LABEL lines)")
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
