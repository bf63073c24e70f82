"""Llama-family decoders (Llama, Qwen2, Mistral, Gemma; Qwen3, Gemma 2 and 3, Phi-3) under MPC against plaintext:
model classes unchanged, tiny random configs, max abs error of the logits printed (``pytest -s``)."""

from __future__ import annotations

import copy

import pytest
import torch
import transformers as T

from privformers.secure.adapt import UnsupportedConfigError, adapt, check_supported
from privformers.secure.runtime import secure_forward
from tests.secure.helpers import compare

# initializer_range 0.2: activations of realistic size (Gemma 2 normalises attention outputs; decisive logits)
COMMON = dict(vocab_size=101, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=8, max_position_embeddings=64, pad_token_id=None, bos_token_id=0,
              eos_token_id=0, initializer_range=0.2)
# a sliding window shorter than the test sequences, so the window's mask matters
# Gemma 2's logit softcapping has its own test (below): it scales tanh's error by the cap.
FAMILIES = {"llama": {}, "qwen2": {}, "mistral": dict(sliding_window=4), "gemma": {}, "qwen3": {},
            "gemma2": dict(sliding_window=4, attn_logit_softcapping=None, final_logit_softcapping=None),
            "gemma3_text": dict(sliding_window=4), "phi3": {}}
IDS = torch.tensor([[5, 17, 42, 8, 9, 23, 61]])


def config(family: str, **overrides: object) -> T.PretrainedConfig:
    return T.AutoConfig.for_model(family, **{**COMMON, **FAMILIES.get(family, {}), **overrides})


def causal_lm(cfg: T.PretrainedConfig):
    return lambda: T.AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_logits_match_plaintext(family: str) -> None:
    err = compare(causal_lm(config(family)), input_ids=IDS)
    print(f"{family} max abs error {err:.2e}")
    assert err <= 1e-2


def test_gemma2_softcapping_through_the_engines_tanh() -> None:
    """cap * tanh(x / cap) on attention scores (cap 50) and logits (cap 30): the engine's tanh errs by up to
    2e-3, which the cap multiplies, so the bound here is looser than elsewhere."""
    err = compare(causal_lm(config("gemma2", attn_logit_softcapping=50.0, final_logit_softcapping=30.0)),
                  input_ids=IDS)
    print(f"gemma2 with softcapping max abs error {err:.2e}")
    assert err <= 5e-2


@pytest.mark.parametrize("family", list(FAMILIES))
def test_adapted_model_computes_the_same_function_in_plaintext(family: str) -> None:
    """Folding the RMSNorm weights (Gemma: 1 + w) and the score scaling, and grouped attention, change nothing."""
    torch.manual_seed(0)
    model = causal_lm(config(family))()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(-0.5, 1.5)   # non-trivial norm weights, so folding them matters
    adapted = adapt(copy.deepcopy(model))
    names = {type(m).__name__ for m in adapted.modules()}
    assert not any(n.endswith("RMSNorm") and n != "RMSNorm" for n in names)   # every norm is torch's now
    with torch.no_grad():
        assert torch.allclose(model(IDS).logits, adapted(IDS).logits, atol=1e-5)


@pytest.mark.parametrize("rope", [dict(rope_type="linear", factor=2.0), dict(rope_type="dynamic", factor=2.0),
                                  dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                       original_max_position_embeddings=4),
                                  dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=4)],
                         ids=lambda r: r["rope_type"])
def test_rope_scaling_types(rope: dict) -> None:
    """Llama 3's and Qwen2's scaled rotary embeddings: cos and sin come from public positions (yarn's are
    scaled past 1, so they take the truncating product)."""
    params = {"rope_theta": 10000.0, **rope}
    cfg = config("llama", rope_parameters=params, max_position_embeddings=16 if rope["rope_type"] != "dynamic" else 4)
    err = compare(causal_lm(cfg), input_ids=IDS)
    print(f"rope {rope['rope_type']} max abs error {err:.2e}")
    assert err <= 1e-2


def test_phi3_longrope() -> None:
    short = [1.0 + 0.1 * i for i in range(4)]
    cfg = config("phi3", rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": short,
                                          "long_factor": [2 * f for f in short]},
                 original_max_position_embeddings=4)
    assert compare(causal_lm(cfg), input_ids=IDS) <= 1e-2


@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma"])
def test_sequence_classification(family: str) -> None:
    cfg = config(family, num_labels=3)
    err = compare(lambda: T.AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager").eval(),
                  input_ids=IDS)
    print(f"{family} classifier max abs error {err:.2e}")
    assert err <= 1e-2


def test_unsupported_features_fail_naming_them() -> None:
    cfg = config("llama")
    sdpa = lambda: T.LlamaForCausalLM._from_config(cfg, attn_implementation="sdpa").eval()  # noqa: E731
    with pytest.raises(RuntimeError, match="attention implementation 'sdpa'"):
        secure_forward(sdpa, sdpa().state_dict(), input_ids=IDS)
    odd = config("llama")
    odd.rope_parameters = {"rope_type": "proportional", "rope_theta": 10000.0}
    with pytest.raises(UnsupportedConfigError, match="rope type 'proportional'"):
        check_supported(odd)
    with pytest.raises(UnsupportedConfigError, match="mixture of experts"):
        check_supported(T.AutoConfig.for_model("qwen2_moe", num_experts=4))
    check_supported(config("mistral"))   # a sliding window is public: supported
