"""Which model configurations the secure runtime runs: ``check_supported`` names the first feature it does not.

Light on imports (no model code): every ``ModelSpec`` calls it when made, so the launcher refuses a bad config
before any party connects, with the feature's name. ``privformers.secure.adapt`` calls it again on the model.
"""

from __future__ import annotations

from typing import Any

# the attention implementations privformers installs itself: the secure runtime's grouped-query attention
# (``privformers.secure.attention``) and a converted model's own (``privformers.approx.attention``)
SECURE_ATTENTION = "privformers_grouped"
APPROX_ATTENTION = "privformers_approx"

# rope types whose cos/sin the rotary module computes from public positions and the config alone, each
# tested under MPC (tests/secure/test_llama_family.py); others are refused by name
ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "yarn", "longrope")


class UnsupportedConfigError(ValueError):
    """A model configuration asks for a feature the secure runtime does not run."""


def check_supported(config: Any) -> None:
    """Raise UnsupportedConfigError naming the first unsupported feature of config (and its sub-configs)."""
    impl = getattr(config, "_attn_implementation_internal", None)
    if impl not in (None, "eager", SECURE_ATTENTION, APPROX_ATTENTION):
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
    if text is not None and text is not config and hasattr(text, "to_dict"):
        check_supported(text)
