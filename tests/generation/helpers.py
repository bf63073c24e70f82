"""A tiny random GPT-2 with decisive logits, and a saved copy with a word-level tokenizer."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

from privformers.generation.models import random_gpt2

PROMPT = [5, 17, 42, 8]
SEED = 1  # with initializer_range 0.2, the top two logits differ by >= 0.46 on this prompt
SPEC = random_gpt2("tiny", SEED, initializer_range=0.2)


def plain_model() -> GPT2LMHeadModel:
    """The server's model in the clear."""
    model = SPEC.factory()
    model.load_state_dict(SPEC.weights())
    return model


def save_model(folder: Path) -> Path:
    """Save the tiny model and a 101-word tokenizer (w0 ... w100) as a save_pretrained folder."""
    plain_model().save_pretrained(folder)
    vocab = {f"w{i}": i for i in range(101)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="w0").save_pretrained(folder)
    torch.manual_seed(0)
    return folder
