"""Model specs from what a party is given: a ``save_pretrained`` folder (the server), the public config
(client and dealer), or a program's arguments, which name one of those or a random-weight model."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig

from privformers.approx.checkpoint import load_student, read_recipe
from privformers.approx.recipes import Recipe
from privformers.hf import auto_class
from privformers.models.random_weights import random_decoder, random_gpt2
from privformers.models.shapes import DECODER_ARCHS
from privformers.models.spec import _INIT, ModelSpec

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


class ModelNotFoundError(ValueError):
    """The model path is not a folder written by ``save_pretrained``."""


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
