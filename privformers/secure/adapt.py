"""What every party does to a model's architecture before its weights become server-held, and what a
config must not ask for.

``adapt`` runs the folds (``fold.py``: LayerNorm affines, attention scaling, RMSNorm weights) and switches
Llama-family attention to the grouped implementation (``attention.py``). Only the server's weights are
real; the other parties make the same changes on placeholders, so every party runs the same program.

``check_supported`` refuses, before any party connects, the configurations the runtime cannot run,
naming the feature: it runs wherever a model spec is made (``generation/models.py``) and again in setup.
"""

from __future__ import annotations

from torch import nn
from transformers import PretrainedConfig

from privformers.secure.attention import APPROX, NAME, use_secure_attention
from privformers.secure.fold import fold_attention_scaling, fold_layer_norms, fold_rms_norms

# rope types whose cos/sin the rotary module computes from public positions and the config alone, each
# tested under MPC (tests/secure/test_llama_family.py); others are refused by name
ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "yarn", "longrope")


class UnsupportedConfigError(ValueError):
    """A model configuration asks for a feature the secure runtime does not run."""


def check_supported(config: PretrainedConfig) -> None:
    """Raise UnsupportedConfigError naming the first unsupported feature of config (and its sub-configs)."""
    impl = getattr(config, "_attn_implementation_internal", None)
    if impl not in (None, "eager", NAME, APPROX):
        raise UnsupportedConfigError(f"attention implementation {impl!r}: only 'eager' runs under MPC")
    rope = getattr(config, "rope_parameters", None) or {}
    layers = rope.values() if rope and all(isinstance(v, dict) for v in rope.values()) else [rope]
    for params in layers:   # Gemma 3 keeps one rope setting per attention type
        kind = params.get("rope_type", "default") if isinstance(params, dict) else "default"
        if kind not in ROPE_TYPES:
            raise UnsupportedConfigError(f"rope type {kind!r} (rope_parameters): supported are {', '.join(ROPE_TYPES)}")
    for name in ("num_experts", "num_local_experts"):
        if getattr(config, name, None):
            raise UnsupportedConfigError(f"mixture of experts ({name}={getattr(config, name)}): routing on secret "
                                         "activations is not supported")
    text = getattr(config, "text_config", None)
    if isinstance(text, PretrainedConfig) and text is not config:
        check_supported(text)


def adapt(model: nn.Module) -> nn.Module:
    """Fold norms and scalings into the server's weights and switch to secure attention, in place."""
    config = getattr(model, "config", None)
    if isinstance(config, PretrainedConfig):
        check_supported(config)
    fold_layer_norms(model)
    fold_attention_scaling(model)
    fold_rms_norms(model)
    use_secure_attention(model)
    return model
