"""Student checkpoints: ``save_pretrained`` files plus ``privformers_recipe.json``; loading re-applies
the recipe to the architecture, then loads the weights (so the extra parameters, e.g. Merge
Module matrices and THE-X normalisers, have somewhere to go)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, PretrainedConfig

from privformers.approx.recipes import Recipe
from privformers.hf import auto_class as default_class

RECIPE_FILE = "privformers_recipe.json"


def save_student(model: nn.Module, path: str | Path, **save_kwargs: object) -> Path:
    """model.save_pretrained(path) and, for a converted model, its recipe as privformers_recipe.json."""
    from privformers.approx.convert import recipe_of  # conversion code loads on use: reading a recipe needs none

    path = Path(path)
    model.save_pretrained(path, **save_kwargs)
    recipe = recipe_of(model)
    target = path / RECIPE_FILE
    if recipe is not None:
        target.write_text(json.dumps(recipe.to_dict(), indent=2) + "\n")
    elif target.exists():
        target.unlink()
    return path


def read_recipe(path: str | Path) -> Recipe | None:
    """The recipe saved in a model folder (None when it holds an unconverted model)."""
    f = Path(path) / RECIPE_FILE
    if not f.is_file():
        return None
    try:
        return Recipe.from_dict(json.loads(f.read_text()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad recipe file {f}: {exc}") from exc


def state_dict_at(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors saved in a model folder (safetensors, sharded or not, or pytorch_model.bin)."""
    path = Path(path)
    if (path / "model.safetensors").is_file():
        return load_file(path / "model.safetensors")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in load_file(path / shard).items()}
    if (path / "pytorch_model.bin").is_file():
        return torch.load(path / "pytorch_model.bin", weights_only=True, map_location="cpu")
    raise FileNotFoundError(f"no weights in {path} (model.safetensors or pytorch_model.bin)")


def load_weights(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load state into model; a key may be absent only when its tensor is tied to a loaded one."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"checkpoint has weights the model lacks: {unexpected[:5]}")
    own = model.state_dict(keep_vars=True)
    names: dict[int, set[str]] = {}
    for name, t in own.items():
        names.setdefault(id(t), set()).add(name)
    lacking = [k for k in missing if not names[id(own[k])] & state.keys()]
    if lacking:
        raise ValueError(f"checkpoint lacks weights: {lacking[:5]}")


def build(config: PretrainedConfig, auto_class: type, recipe: Recipe | None) -> nn.Module:
    """The architecture (placeholder weights, eager attention), converted by the recipe if any."""
    from privformers.approx.convert import approximate

    model = auto_class.from_config(config, attn_implementation="eager")
    return model if recipe is None else approximate(model, recipe, inplace=True)


def load_student(path: str | Path, auto_class: type | None = None) -> nn.Module:
    """A model folder's model with its recipe applied and its weights loaded, in eval mode."""
    config = AutoConfig.from_pretrained(path)
    model = build(config, auto_class or default_class(config), read_recipe(path))
    load_weights(model, state_dict_at(path))
    return model.eval()
