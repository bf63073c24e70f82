"""Seeded random-weight models of named shapes (``shapes.py``), for tests and benchmarks: a GPT-2, a
Llama-family decoder, or any architecture's config, converted by an approximation recipe if given."""

from __future__ import annotations

import torch
from transformers import GPT2Config, PretrainedConfig

from privformers.approx.recipes import Recipe, get_recipe
from privformers.hf import auto_class
from privformers.models.shapes import DECODER_ARCHS, DECODER_SIZES, SIZES
from privformers.models.spec import _INIT, ModelSpec


def random_spec(config: PretrainedConfig, seed: int = 0, recipe: str | Recipe | None = None) -> ModelSpec:
    """Any architecture's config with seeded random weights, converted by a recipe if given."""
    from privformers.approx.convert import approximate  # conversion code loads on use

    recipe = None if recipe is None else get_recipe(recipe)

    def weights() -> dict[str, torch.Tensor]:
        with _INIT:  # converting draws random numbers too (e.g. a new layer's init): inside the lock
            torch.manual_seed(seed)
            model = auto_class(config).from_config(config, attn_implementation="eager").eval()
            return (model if recipe is None else approximate(model, recipe, inplace=True)).state_dict()

    return ModelSpec(config, weights, recipe)


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
