"""Which model to run: a local ``save_pretrained`` folder, or a random-weight config (tests, benchmarks).

Client and dealer read only the (public) architecture; the server alone reads the weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, GPT2Config, PretrainedConfig

SIZES = {  # GPT-2 shapes for random-weight runs
    "tiny": dict(n_layer=2, n_embd=32, n_head=2, vocab_size=101, n_positions=64),
    "small": dict(n_layer=4, n_embd=256, n_head=4, vocab_size=50257, n_positions=1024),
    "base": dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024),
}


_INIT = threading.Lock()  # parties as threads share torch's global RNG: seeded weights need it alone


def auto_class(config: PretrainedConfig) -> type:
    """The Auto class for a config: sequence-to-sequence LM for encoder-decoders, causal LM otherwise."""
    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


def random_spec(config: PretrainedConfig, seed: int = 0) -> ModelSpec:
    """Any architecture's config with seeded random weights."""

    def weights() -> dict[str, torch.Tensor]:
        with _INIT:
            torch.manual_seed(seed)
            return auto_class(config).from_config(config).eval().state_dict()

    return ModelSpec(config, weights)


class ModelNotFoundError(ValueError):
    """The model path is not a folder written by ``save_pretrained``."""


@dataclass
class ModelSpec:
    """A public architecture and a way for the server to get the weights."""

    config: PretrainedConfig
    weights: Callable[[], dict[str, torch.Tensor]]

    def factory(self) -> torch.nn.Module:
        """The architecture with placeholder weights (eager attention)."""
        with _INIT:
            return auto_class(self.config).from_config(self.config, attn_implementation="eager").eval()

    @property
    def context(self) -> int:
        """The longest sequence the model accepts (positions)."""
        c = self.config
        return int(getattr(c, "n_positions", None) or getattr(c, "max_position_embeddings", 0))


def from_path(path: str | Path) -> ModelSpec:
    """A saved model folder (config.json and weights); clear error when it is not one."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"no model at {str(path)!r}: expected a folder written by save_pretrained "
                                 "(with config.json and weights)")
    config = AutoConfig.from_pretrained(path)
    # Unpadded private generation needs no pad id; with one set, HF models peek at the (secret)
    # first and last token ids to warn about missing attention masks, which the runtime refuses.
    config.pad_token_id = None

    def weights() -> dict[str, torch.Tensor]:
        return auto_class(config).from_pretrained(path, attn_implementation="eager").eval().state_dict()

    return ModelSpec(config, weights)


def random_gpt2(size: str = "tiny", seed: int = 0, **overrides: object) -> ModelSpec:
    """A GPT-2 of a named size with seeded random weights (initializer_range 0.2 makes tiny models decisive)."""
    kwargs = {**SIZES[size], "bos_token_id": 0, "eos_token_id": 0, **overrides}
    return random_spec(GPT2Config(**kwargs), seed)


def public_config(config: PretrainedConfig) -> dict:
    """The architecture as plain JSON data, for the parties that hold no weights."""
    return config.to_dict()


def from_config_dict(data: dict) -> ModelSpec:
    """The architecture from ``public_config`` data; no weights (client and dealer of a served session)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = data.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"unknown model type {model_type!r} in the served model's config")
    config = CONFIG_MAPPING[model_type].from_dict(dict(data))
    config.pad_token_id = None

    def no_weights() -> dict[str, torch.Tensor]:
        raise RuntimeError("only the server holds the weights")

    return ModelSpec(config, no_weights)


def from_args(args: dict) -> ModelSpec:
    """{"model": PATH}, {"hf_config": public_config(...)} (architecture only), or
    {"arch": "gpt2", "size": ..., "seed": ..., "config": {overrides}}."""
    if args.get("model"):
        return from_path(args["model"])
    if args.get("hf_config"):
        return from_config_dict(args["hf_config"])
    if args.get("arch", "gpt2") != "gpt2":
        raise ValueError(f"random-weight models: only arch 'gpt2' so far, not {args['arch']!r}")
    return random_gpt2(args.get("size", "tiny"), int(args.get("seed", 0)), **args.get("config", {}))


class PromptTooLongError(ValueError):
    """The prompt plus the new tokens do not fit the model's context."""


def check_length(spec: ModelSpec, prompt_len: int, max_new_tokens: int) -> None:
    """Raise PromptTooLongError unless prompt_len + max_new_tokens <= the model's context
    (encoder-decoders: the prompt and the decoded tokens each within it)."""
    if spec.config.is_encoder_decoder:
        if spec.context and max(prompt_len, max_new_tokens + 1) > spec.context:
            raise PromptTooLongError(f"prompt of {prompt_len} tokens or {max_new_tokens} new tokens exceed the "
                                     f"model's context of {spec.context} positions")
        return
    if spec.context and prompt_len + max_new_tokens > spec.context:
        raise PromptTooLongError(f"prompt of {prompt_len} tokens is too long: the model's context is "
                                 f"{spec.context} positions, so with {max_new_tokens} new tokens the prompt may "
                                 f"have at most {spec.context - max_new_tokens} tokens")


def decoder_start(config: PretrainedConfig) -> int:
    """The token an encoder-decoder's decoder starts from (T5: the pad token)."""
    for name in ("decoder_start_token_id", "pad_token_id"):
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    return 0
