"""BERT and RoBERTa (erf GeLU, padding attention mask, pooler tanh) under MPC against plaintext."""

from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification, BertModel, RobertaConfig, RobertaModel

from tests.secure.helpers import compare

SIZES = dict(vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=64, attn_implementation="eager")
IDS = torch.randint(3, 101, (1, 8), generator=torch.Generator().manual_seed(3))
MASK = torch.tensor([[1, 1, 1, 1, 1, 1, 0, 0]])  # two padding positions: masked out in attention


def test_bert_hidden_states_match_plaintext() -> None:
    err = compare(lambda: BertModel(BertConfig(**SIZES)), output="last_hidden_state", input_ids=IDS,
                  attention_mask=MASK)
    print(f"bert last_hidden_state max abs error {err:.2e}")
    assert err <= 1e-2


def test_bert_classifier_logits_match_plaintext() -> None:
    cfg = BertConfig(num_labels=3, initializer_range=0.5, **SIZES)  # larger weights: logits of order 1
    err = compare(lambda: BertForSequenceClassification(cfg), input_ids=IDS, attention_mask=MASK)
    print(f"bert classifier logits max abs error {err:.2e}")
    assert err <= 1e-2


def test_roberta_hidden_states_match_plaintext() -> None:
    positions = torch.arange(2, 10)[None]  # public positions (RoBERTa would derive them from the secret ids)
    err = compare(lambda: RobertaModel(RobertaConfig(**SIZES)), output="last_hidden_state", input_ids=IDS,
                  attention_mask=MASK, position_ids=positions)
    print(f"roberta last_hidden_state max abs error {err:.2e}")
    assert err <= 1e-2
