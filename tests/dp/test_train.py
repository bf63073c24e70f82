"""Tokenizer loading, data-to-text encoding and parameter freezing used by dp-train."""

from __future__ import annotations

from pathlib import Path

import pytest

from privformers.data import TextPair
from privformers.dp.datasets import encode_pairs
from privformers.dp.train import freeze_all_but, load_tokenizer
from tests.dp._tiny_models import make

GPT2 = Path("/work/shared/data/tokenizers/gpt2")


def test_gpt2_tokenizer_from_vocab_and_merges():
    if not GPT2.exists():
        pytest.skip("shared GPT-2 tokenizer files not found")
    tokenizer = load_tokenizer(str(GPT2))
    assert len(tokenizer) == 50257 and tokenizer.pad_token_id == tokenizer.eos_token_id == 50256
    assert tokenizer("hello world")["input_ids"] == [31373, 995]
    (example,) = encode_pairs(tokenizer, [TextPair("name[X]", "X is a pub.")], 64)
    prompt_len = example["labels"].count(-100)
    assert tokenizer.decode(example["input_ids"][:prompt_len]) == "name[X] ="
    assert example["labels"][prompt_len:] == example["input_ids"][prompt_len:]
    assert example["labels"][-1] == 50256


def test_freeze_all_but_keeps_only_matching_parameters():
    model, _ = make("bert")
    freeze_all_but(model, r"layer\.1\.|classifier")
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all("layer.1." in n or "classifier" in n for n in trained)
    assert any(n.startswith("classifier") for n in trained)
    with pytest.raises(ValueError, match="matches no trainable parameter"):
        freeze_all_but(model, "no-such-parameter")
