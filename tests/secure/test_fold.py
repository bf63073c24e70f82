"""Folding GPT-2's pre-LayerNorm affines into the next projection keeps the model's function."""

from __future__ import annotations

import copy

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from privformers.approx import approximate
from privformers.secure.fold import fold_layer_norms


def _model(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, vocab_size=50, n_positions=16,
                                       attn_implementation="eager")).eval()
    with torch.no_grad():  # non-trivial affines, so that folding them matters
        for block in model.transformer.h:
            for ln in (block.ln_1, block.ln_2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.normal_(0, 0.3)
    return model


def test_folded_model_gives_the_same_logits():
    model = _model()
    folded = copy.deepcopy(model)
    assert fold_layer_norms(folded) == 4
    assert all(not b.ln_1.elementwise_affine and not b.ln_2.elementwise_affine for b in folded.transformer.h)
    assert folded.transformer.ln_f.elementwise_affine  # ln_f feeds the tied LM head: left alone
    ids = torch.randint(0, 50, (2, 10))
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, folded(ids).logits, atol=1e-5)


def test_merge_module_attention_folds_into_its_value_projection():
    model = approximate(_model(), "merge-mm")
    folded = copy.deepcopy(model)
    assert fold_layer_norms(folded) == 4
    ids = torch.randint(0, 50, (1, 8))
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, folded(ids).logits, atol=1e-5)


def test_thex_affine_norms_are_left_alone():
    model = approximate(_model(), "thex")
    assert fold_layer_norms(model) == 0
