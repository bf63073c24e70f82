"""Tokenizer loading and table-to-text encoding used by dp-train."""

from __future__ import annotations

from pathlib import Path

import pytest

from privformers.dp.datasets import encode_table_to_text
from privformers.dp.train import load_tokenizer

GPT2 = Path("/work/shared/data/tokenizers/gpt2")


def test_gpt2_tokenizer_from_vocab_and_merges():
    if not GPT2.exists():
        pytest.skip("shared GPT-2 tokenizer files not found")
    tokenizer = load_tokenizer(str(GPT2))
    assert len(tokenizer) == 50257 and tokenizer.pad_token_id == tokenizer.eos_token_id == 50256
    assert tokenizer("hello world")["input_ids"] == [31373, 995]
    (example,) = encode_table_to_text(tokenizer, [("name[X]", "X is a pub.")], 64)
    prompt_len = example["labels"].count(-100)
    assert example["input_ids"][prompt_len - 1] == 50256  # prompt ends with eos
    assert example["labels"][prompt_len:] == example["input_ids"][prompt_len:]
    assert example["labels"][-1] == 50256
