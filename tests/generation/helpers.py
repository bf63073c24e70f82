"""A tiny random GPT-2 with decisive logits, and a saved copy with a word-level tokenizer."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

from privformers.models.random_weights import random_gpt2
from privformers.models.spec import ModelSpec

PROMPT = [5, 17, 42, 8]
SEED = 1  # with initializer_range 0.2, the top two logits differ by >= 0.46 on this prompt
SPEC = random_gpt2("tiny", SEED, initializer_range=0.2)
SMALL_SPEC = random_gpt2("tiny", 0, initializer_range=0.2, n_layer=1)  # for process runs: top-2 gaps >= 0.25


def plain_model(spec: ModelSpec = SPEC) -> GPT2LMHeadModel:
    """The server's model in the clear."""
    model = spec.factory()
    model.load_state_dict(spec.weights())
    return model


def save_model(folder: Path, spec: ModelSpec = SPEC) -> Path:
    """Save a tiny model and a 101-word tokenizer (w0 ... w100) as a save_pretrained folder."""
    plain_model(spec).save_pretrained(folder)
    vocab = {f"w{i}": i for i in range(101)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="w0").save_pretrained(folder)
    torch.manual_seed(0)
    return folder
