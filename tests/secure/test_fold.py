"""Folding GPT-2's pre-LayerNorm affines into the next projection keeps the model's function."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

from privformers.approx import approximate
from privformers.secure.fold import fold_attention_scaling, fold_layer_norms


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


def _sharpen(model: torch.nn.Module) -> torch.nn.Module:
    """Larger query and key weights, so that the scores' scale changes the outputs a lot."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(k in name for k in ("query.", "key.", "q_proj.", "k_proj.", "c_attn.")):
                p.mul_(8)
    return model


def _bert() -> BertModel:
    torch.manual_seed(1)
    return _sharpen(BertModel(BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                         intermediate_size=64, vocab_size=60, attn_implementation="eager")).eval())


def _bart() -> BartForConditionalGeneration:
    torch.manual_seed(2)
    config = BartConfig(vocab_size=60, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
                        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=32,
                        attn_implementation="eager")
    return _sharpen(BartForConditionalGeneration(config).eval())


@pytest.mark.parametrize("name, make, layers", [
    ("gpt2", lambda: _sharpen(_model()), 2), ("bert", _bert, 2), ("bart", _bart, 3),
    ("bert-2quad", lambda: approximate(_bert(), "mpcformer-quad-2quad"), 2)])
def test_folded_attention_scaling_gives_the_same_outputs(name, make, layers):
    model = make()
    folded = copy.deepcopy(model)
    assert fold_attention_scaling(folded) == layers
    assert all(getattr(m, "scaling", 1.0) == 1.0 for m in folded.modules())
    assert fold_attention_scaling(folded) == 0   # idempotent: nothing left to fold
    ids = torch.randint(1, 50, (2, 9))
    kwargs = {"decoder_input_ids": ids[:, :5]} if name == "bart" else {}
    with torch.no_grad():
        a, b = model(ids, **kwargs), folded(ids, **kwargs)
    out = "logits" if name in ("gpt2", "bart") else "last_hidden_state"
    folded_err = float((a[out] - b[out]).abs().max())
    assert folded_err < 1e-4
    for m in folded.modules():   # the check is not vacuous: wrongly scaled scores change the outputs far more
        if hasattr(m, "scaling"):
            m.scaling = 4.0
    with torch.no_grad():
        assert float((a[out] - folded(ids, **kwargs)[out]).abs().max()) > 30 * max(folded_err, 1e-6)
