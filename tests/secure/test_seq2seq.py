"""BART and T5 (encoder-decoder, cross attention; T5's RMS norm and relative position bias) under MPC."""

from __future__ import annotations

import torch
from transformers import BartConfig, BartForConditionalGeneration, T5Config, T5ForConditionalGeneration

from tests.secure.helpers import compare

IDS = torch.randint(3, 101, (1, 8), generator=torch.Generator().manual_seed(3))
DECODER_IDS = IDS[:, :5]


def test_bart_logits_match_plaintext() -> None:
    cfg = BartConfig(vocab_size=101, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                     init_std=0.2, attn_implementation="eager")
    err = compare(lambda: BartForConditionalGeneration(cfg), input_ids=IDS, decoder_input_ids=DECODER_IDS)
    print(f"bart logits max abs error {err:.2e}")
    assert err <= 1e-2


def test_t5_logits_match_plaintext() -> None:
    cfg = T5Config(vocab_size=101, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
                   attn_implementation="eager")
    err = compare(lambda: T5ForConditionalGeneration(cfg), input_ids=IDS, decoder_input_ids=DECODER_IDS)
    print(f"t5 logits max abs error {err:.2e}")
    assert err <= 1e-2
