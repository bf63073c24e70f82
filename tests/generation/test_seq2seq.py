"""Encoder-decoder generation under MPC (BART, T5): secret encoder output and cross-attention cache."""

from __future__ import annotations

import pytest
from transformers import BartConfig, T5Config

from privformers.generation import generate_run
from privformers.models.plain import plain_greedy
from privformers.models.random_weights import random_spec

PROMPT = [5, 17, 42, 8, 33]
CONFIGS = {  # seeds where greedy decoding is non-constant and the top two logits differ by >= 0.13
    "bart": (BartConfig(vocab_size=101, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                        max_position_embeddings=64, init_std=0.2), 1),
    "t5": (T5Config(vocab_size=101, d_model=32, d_kv=16, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2,
                    initializer_factor=2.0), 2),
}


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_seq2seq_greedy_matches_plaintext(arch: str) -> None:
    config, seed = CONFIGS[arch]
    spec = random_spec(config, seed)
    model = spec.factory()
    model.load_state_dict(spec.weights())
    ref, gaps = plain_greedy(model, PROMPT, 3)
    assert min(gaps) > 0.1 and len(set(ref)) > 1
    run = generate_run(spec.factory, spec.weights, PROMPT, 3)
    assert run.results["client"]["tokens"] == ref
    assert run.results["server"]["tokens"] is None
