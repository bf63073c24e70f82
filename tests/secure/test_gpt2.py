"""GPT-2 (Conv1D, tied LM head, causal mask, tanh GeLU) under MPC against plaintext."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from tests.secure.helpers import compare_run

CONFIG = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=101, n_positions=64, bos_token_id=0,
                    eos_token_id=0, attn_implementation="eager")


def test_gpt2_logits_match_plaintext() -> None:
    ids = torch.randint(0, 101, (1, 8), generator=torch.Generator().manual_seed(3))
    err, run = compare_run(lambda: GPT2LMHeadModel(CONFIG), input_ids=ids)
    print(f"gpt2 max abs error {err:.2e}")
    assert err <= 1e-2
    breakdown = run.meters["client"].summary()["breakdown"]
    for op_class in ("embedding", "linear", "softmax", "activation", "norm", "lm_head"):
        assert breakdown[op_class]["online_bytes"] > 0, op_class
