"""``approximate(model, recipe)``: a copy of a Hugging Face model with MPC-friendly approximations."""

from __future__ import annotations

import copy
from collections.abc import Callable

from torch import nn
from transformers import PretrainedConfig

from privformers.approx.affine_norm import AffineLayerNorm
from privformers.approx.attention import ATTENTION
from privformers.approx.cubic_softmax import CubicReLUSoftmax
from privformers.approx.families import family_of
from privformers.approx.quad_gelu import QuadGELU
from privformers.approx.recipes import Recipe, get_recipe
from privformers.approx.two_quad import TwoQuadSoftmax
from privformers.approx.two_relu import TwoReLUSoftmax

RECIPE_ATTR = "privformers_recipe"


def recipe_of(model: nn.Module) -> Recipe | None:
    """The recipe a model was converted with (None for an unconverted model)."""
    return getattr(model, RECIPE_ATTR, None)


def _is_gelu(m: nn.Module) -> bool:
    return isinstance(m, nn.GELU) or ("GELU" in type(m).__name__ and not isinstance(m, QuadGELU))


def _is_norm(m: nn.Module) -> bool:
    if isinstance(m, AffineLayerNorm):
        return False
    return isinstance(m, nn.LayerNorm) or type(m).__name__.endswith(("LayerNorm", "RMSNorm"))


def _replace(model: nn.Module, match: Callable[[nn.Module], bool], make: Callable[[nn.Module], nn.Module]) -> int:
    """Replace every submodule for which match(m) holds by make(m); returns how many."""
    found = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
             if match(child)]
    for parent, name, child in found:
        setattr(parent, name, make(child))
    return len(found)


def _softmax(recipe: Recipe) -> nn.Module:
    if recipe.softmax == "2quad":
        return TwoQuadSoftmax(recipe.quad_c)
    if recipe.softmax == "2relu":
        return TwoReLUSoftmax()
    return CubicReLUSoftmax()


def merge_len(config: PretrainedConfig, recipe: Recipe) -> int:
    """Side of the Merge Module matrices: the recipe's merge_max_len, at most the model's context."""
    context = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    return min(recipe.merge_max_len, int(context)) if context else recipe.merge_max_len


def _use_attention(model: nn.Module, name: str) -> None:
    """Point every config of the model (T5 and BART stacks keep copies) at the attention function."""
    configs = {id(c): c for m in model.modules() if isinstance(c := getattr(m, "config", None), PretrainedConfig)}
    for config in configs.values():
        config._attn_implementation = name


def approximate(model: nn.Module, recipe: str | Recipe, inplace: bool = False, **overrides: object) -> nn.Module:
    """A converted copy of model (GPT-2, BERT, RoBERTa, BART or T5, eager attention) for a recipe
    name (``RECIPES``) or a Recipe; overrides change recipe fields (e.g. merge="masked").

    The result is a plain PyTorch model, trainable in plaintext and runnable under MPC; its
    recipe is ``recipe_of(result)`` and ``save_student`` writes it next to the weights.
    """
    recipe = get_recipe(recipe, **overrides)
    if recipe_of(model) is not None:
        raise ValueError(f"model is already converted (recipe {recipe_of(model).name!r})")
    family = family_of(model)
    impl = model.config._attn_implementation
    if (recipe.softmax or recipe.merge) and impl not in (None, "eager"):
        raise ValueError(f"load the model with attn_implementation='eager' (it uses {impl!r})")
    out = model if inplace else copy.deepcopy(model)
    if recipe.activation == "quad":
        _replace(out, lambda m: _is_gelu(m) or isinstance(m, nn.ReLU), lambda m: QuadGELU())
    elif recipe.activation == "relu":
        _replace(out, _is_gelu, lambda m: nn.ReLU())
    if recipe.norm == "affine":
        _replace(out, _is_norm, AffineLayerNorm.from_norm)
    attention = [m for m in out.modules() if isinstance(m, family.attention)]
    if recipe.merge:
        for m in attention:
            family.merge(m, merge_len(out.config, recipe), recipe.merge)
    elif recipe.softmax:
        for m in attention:
            m.attn_softmax = _softmax(recipe)
        _use_attention(out, ATTENTION)
    setattr(out, RECIPE_ATTR, recipe)
    return out
