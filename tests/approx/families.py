"""Tiny random models of the four supported families, and inputs for them."""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    RobertaConfig,
    RobertaForSequenceClassification,
    T5Config,
    T5ForConditionalGeneration,
)

IDS = torch.randint(3, 101, (1, 8), generator=torch.Generator().manual_seed(3))
PAD_MASK = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]])  # two padding positions
ENCODER = dict(vocab_size=101, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
               max_position_embeddings=64, num_labels=3, initializer_range=0.2, attn_implementation="eager")

FAMILIES: dict[str, tuple[Callable[[], torch.nn.Module], dict[str, torch.Tensor]]] = {
    "gpt2": (lambda: GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=101, n_positions=64,
                                                bos_token_id=0, eos_token_id=0, initializer_range=0.2,
                                                attn_implementation="eager")),
             {"input_ids": IDS}),
    "bert": (lambda: BertForSequenceClassification(BertConfig(**ENCODER)),
             {"input_ids": IDS, "attention_mask": PAD_MASK}),
    "roberta": (lambda: RobertaForSequenceClassification(RobertaConfig(**ENCODER)),
                {"input_ids": IDS, "attention_mask": PAD_MASK, "position_ids": torch.arange(2, 10)[None]}),
    "bart": (lambda: BartForConditionalGeneration(BartConfig(
        vocab_size=101, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, init_std=0.2,
        attn_implementation="eager")),
             {"input_ids": IDS, "decoder_input_ids": IDS[:, :5]}),
    "t5": (lambda: T5ForConditionalGeneration(T5Config(
        vocab_size=101, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
        dense_act_fn="gelu_new", attn_implementation="eager")),
           {"input_ids": IDS, "decoder_input_ids": IDS[:, :5]}),
}


def seeded(family: str, seed: int = 0) -> torch.nn.Module:
    """The family's tiny model with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    return FAMILIES[family][0]().eval()
