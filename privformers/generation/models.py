"""Which model to run: a local ``save_pretrained`` folder, or a random-weight config (tests, benchmarks).

Client and dealer read only the (public) architecture; the server alone reads the weights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, GPT2Config, PretrainedConfig

from privformers.approx.checkpoint import load_student, read_recipe
from privformers.approx.recipes import Recipe, get_recipe
from privformers.generation.shapes import DECODER_ARCHS, DECODER_SIZES

SIZES = {  # GPT-2 shapes for random-weight runs
    "tiny": dict(n_layer=2, n_embd=32, n_head=2, vocab_size=101, n_positions=64),
    "small": dict(n_layer=4, n_embd=256, n_head=4, vocab_size=50257, n_positions=1024),
    "base": dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024),
}

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
_INIT = threading.Lock()  # parties as threads share torch's global RNG: seeded weights need it alone


def auto_class(config: PretrainedConfig) -> type:
    """The Auto class for a config: a sequence classifier when its architectures name one,
    else a sequence-to-sequence LM for encoder-decoders and a causal LM otherwise. (The model classes,
    and the conversion code below, load on first use: the launcher checks a model without them.)"""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

    if any(a.endswith("ForSequenceClassification") for a in getattr(config, "architectures", None) or ()):
        return AutoModelForSequenceClassification
    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


def random_spec(config: PretrainedConfig, seed: int = 0, recipe: str | Recipe | None = None) -> ModelSpec:
    """Any architecture's config with seeded random weights, converted by a recipe if given."""
    from privformers.approx.convert import approximate

    recipe = None if recipe is None else get_recipe(recipe)

    def weights() -> dict[str, torch.Tensor]:
        with _INIT:  # converting draws random numbers too (e.g. a new layer's init): inside the lock
            torch.manual_seed(seed)
            model = auto_class(config).from_config(config, attn_implementation="eager").eval()
            return (model if recipe is None else approximate(model, recipe, inplace=True)).state_dict()

    return ModelSpec(config, weights, recipe)


class ModelNotFoundError(ValueError):
    """The model path is not a folder written by ``save_pretrained``."""


@dataclass
class ModelSpec:
    """A public architecture (with its approximation recipe, if any) and a way for the server to
    get the weights."""

    config: PretrainedConfig
    weights: Callable[[], dict[str, torch.Tensor]]
    recipe: Recipe | None = None

    def __post_init__(self) -> None:
        """A config the secure runtime cannot run fails here, naming the feature, before any party connects."""
        from privformers.secure.support import check_supported

        check_supported(self.config)

    def factory(self) -> torch.nn.Module:
        """The architecture with placeholder weights (eager attention), converted by the recipe."""
        from privformers.approx.convert import approximate

        with _INIT:
            model = auto_class(self.config).from_config(self.config, attn_implementation="eager").eval()
            return model if self.recipe is None else approximate(model, self.recipe, inplace=True)

    @property
    def context(self) -> int:
        """The longest sequence the model accepts (positions)."""
        c = self.config
        return int(getattr(c, "n_positions", None) or getattr(c, "max_position_embeddings", 0))


def from_path(path: str | Path) -> ModelSpec:
    """A saved model folder (config.json and weights); clear error when it is not one. A student
    saved with ``privformers.approx.save_student`` comes back with its recipe applied."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"no model at {str(path)!r}: expected a folder written by save_pretrained "
                                 "(with config.json and weights)")
    config = AutoConfig.from_pretrained(path)
    # Unpadded private generation needs no pad id; with one set, HF models peek at the (secret)
    # first and last token ids to warn about missing attention masks, which the runtime refuses.
    config.pad_token_id = None

    recipe = read_recipe(path)

    def weights() -> dict[str, torch.Tensor]:
        check_weights(path)
        # Inside the lock: loading switches transformers' process-wide "skip weight init" flag, and a model
        # built meanwhile in another thread (a party as a thread) would come out with untied weights.
        with _INIT:
            if recipe is not None:
                return load_student(path, auto_class(config)).state_dict()
            return auto_class(config).from_pretrained(path, attn_implementation="eager").eval().state_dict()

    return ModelSpec(config, weights, recipe)


def check_weights(path: str | Path) -> None:
    """Raise ModelNotFoundError unless the folder holds weights (only the server needs them)."""
    if not any((Path(path) / name).is_file() for name in WEIGHT_FILES):
        raise ModelNotFoundError(f"no weights in {str(path)!r}: expected {' or '.join(WEIGHT_FILES)} next to "
                                 "config.json (a folder written by save_pretrained)")


def random_gpt2(size: str = "tiny", seed: int = 0, recipe: str | Recipe | None = None,
                **overrides: object) -> ModelSpec:
    """A GPT-2 of a named size with seeded random weights (initializer_range 0.2 makes tiny models decisive),
    converted by an approximation recipe if given."""
    kwargs = {**SIZES[size], "bos_token_id": 0, "eos_token_id": 0, **overrides}
    return random_spec(GPT2Config(**kwargs), seed, recipe)


def decoder_config(arch: str, size: str = "tiny", **overrides: object) -> PretrainedConfig:
    """A Llama-family config of a named shape (``DECODER_SIZES``) for one of ``DECODER_ARCHS``; the head width
    is hidden / heads in every family (Gemma's own default is 256)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if arch not in DECODER_ARCHS:
        raise ValueError(f"random-weight decoders: arch must be one of {', '.join(DECODER_ARCHS)}, not {arch!r}")
    if size not in DECODER_SIZES:
        raise ValueError(f"size must be one of {', '.join(DECODER_SIZES)}, not {size!r}")
    shape = {**DECODER_SIZES[size], **overrides}
    shape.setdefault("head_dim", shape["hidden_size"] // shape["num_attention_heads"])
    return CONFIG_MAPPING[arch](**shape, bos_token_id=0, eos_token_id=0, pad_token_id=None)


def random_decoder(arch: str, size: str = "tiny", seed: int = 0, **overrides: object) -> ModelSpec:
    """A Llama-family decoder of a named shape with seeded random weights (initializer_range 0.2 at the tiny
    size, as for ``random_gpt2``, so that tiny models are decisive)."""
    if size == "tiny":
        overrides = {"initializer_range": 0.2, **overrides}
    return random_spec(decoder_config(arch, size, **overrides), seed)


PRIVATE_CONFIG_KEYS = ("_name_or_path", "_commit_hash")   # where the server keeps the model: not architecture


def public_config(config: PretrainedConfig) -> dict:
    """The architecture as plain JSON data, for the parties that hold no weights (without the server's
    folder path, which a loaded config remembers)."""
    return {k: v for k, v in config.to_dict().items() if k not in PRIVATE_CONFIG_KEYS}


def public_spec(spec: ModelSpec) -> dict:
    """What the parties without the weights need, as plain JSON data: the architecture (``hf_config``)
    and the approximation recipe of a student (``recipe``, None for an unconverted model). The local
    launcher gives this to the client and the dealer instead of the model folder's path, and a
    ``serve`` server sends it to its clients; ``from_args`` reads it back."""
    return {"hf_config": public_config(spec.config), "recipe": None if spec.recipe is None else spec.recipe.to_dict()}


def from_config_dict(data: dict, recipe: dict | None = None) -> ModelSpec:
    """The architecture from ``public_config`` data (and a student's recipe, as ``Recipe.to_dict``); no
    weights (client and dealer)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = data.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"unknown model type {model_type!r} in the model's public config")
    config = CONFIG_MAPPING[model_type].from_dict(dict(data))
    config.pad_token_id = None

    def no_weights() -> dict[str, torch.Tensor]:
        raise RuntimeError("only the server holds the weights")

    return ModelSpec(config, no_weights, None if recipe is None else Recipe.from_dict(recipe))


def from_args(args: dict) -> ModelSpec:
    """{"model": PATH} (the server), {"hf_config": ..., "recipe": ...} (``public_spec``: architecture
    only), or {"arch": "gpt2", "size": ..., "seed": ..., "config": {overrides}, "recipe": NAME}; arch may
    also be llama, qwen2, mistral or gemma (``random_decoder``, no recipe)."""
    if args.get("model"):
        return from_path(args["model"])
    if args.get("hf_config"):
        return from_config_dict(args["hf_config"], args.get("recipe"))
    if args.get("arch", "gpt2") in DECODER_ARCHS:
        return random_decoder(args["arch"], args.get("size", "tiny"), int(args.get("seed", 0)),
                              **args.get("config", {}))
    if args.get("arch", "gpt2") != "gpt2":
        raise ValueError(f"random-weight models: arch must be gpt2 or one of {', '.join(DECODER_ARCHS)}, "
                         f"not {args['arch']!r}")
    return random_gpt2(args.get("size", "tiny"), int(args.get("seed", 0)), args.get("recipe"),
                       **args.get("config", {}))


class PromptTooLongError(ValueError):
    """The prompt plus the new tokens do not fit the model's context."""


def check_length(spec: ModelSpec, prompt_len: int, max_new_tokens: int) -> None:
    """Raise PromptTooLongError unless prompt_len + max_new_tokens <= the model's context
    (encoder-decoders: the prompt and the decoded tokens each within it), and within the side of
    the Merge Module matrices for a model converted with one."""
    seq2seq = spec.config.is_encoder_decoder
    longest = max(prompt_len, max_new_tokens + 1) if seq2seq else prompt_len + max_new_tokens
    if spec.recipe is not None and spec.recipe.merge:
        from privformers.approx.convert import merge_len  # conversion code: only for a Merge Module

        if longest > merge_len(spec.config, spec.recipe):
            raise PromptTooLongError(f"{longest} positions exceed the Merge Module's "
                                     f"{merge_len(spec.config, spec.recipe)} (recipe option merge_max_len)")
    if seq2seq:
        if spec.context and longest > spec.context:
            raise PromptTooLongError(f"prompt of {prompt_len} tokens or {max_new_tokens} new tokens exceed the "
                                     f"model's context of {spec.context} positions")
        return
    if spec.context and max_new_tokens >= spec.context:
        raise PromptTooLongError(f"{max_new_tokens} new tokens do not fit: the model's context is {spec.context} "
                                 f"positions, so a prompt of {prompt_len} tokens leaves room for at most "
                                 f"{max(spec.context - prompt_len, 0)} new tokens")
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
