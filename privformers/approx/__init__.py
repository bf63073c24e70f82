"""MPC-friendly approximations of transformer ops (MPCFormer, THE-X, MERGE) as plain PyTorch modules.

Each approximation is trainable in plaintext and runs under MPC: its math is one function that
the secure runtime intercepts (``overridable``) and replaces by a dedicated protocol.
``approximate(model, recipe)`` converts a Hugging Face model (GPT-2, BERT, RoBERTa, BART, T5);
``save_student`` / ``load_student`` keep the recipe next to the weights.
"""

from typing import TYPE_CHECKING

from privformers.approx.quad_gelu import quad_gelu as quad_gelu  # eager: importing the module would bind its name to it
from privformers.lazy import lazy_exports

_EXPORTS = {
    "AffineLayerNorm": "affine_norm",
    "RECIPE_FILE": "checkpoint",
    "load_student": "checkpoint",
    "read_recipe": "checkpoint",
    "save_student": "checkpoint",
    "approximate": "convert",
    "recipe_of": "convert",
    "CubicReLUSoftmax": "cubic_softmax",
    "ReciprocalMLP": "cubic_softmax",
    "cubic_relu_softmax": "cubic_softmax",
    "fit_affine_norms": "fit_norms",
    "MergeModule": "merge",
    "merge_attention": "merge",
    "merge_weights": "merge",
    "QuadGELU": "quad_gelu",
    "RECIPES": "recipes",
    "Recipe": "recipes",
    "get_recipe": "recipes",
    "register_recipe": "recipes",
    "TwoQuadSoftmax": "two_quad",
    "two_quad_softmax": "two_quad",
    "TwoReLUSoftmax": "two_relu",
    "two_relu_softmax": "two_relu",
}
__all__ = sorted([*_EXPORTS, "quad_gelu"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.approx.affine_norm import AffineLayerNorm as AffineLayerNorm
    from privformers.approx.checkpoint import RECIPE_FILE as RECIPE_FILE
    from privformers.approx.checkpoint import load_student as load_student
    from privformers.approx.checkpoint import read_recipe as read_recipe
    from privformers.approx.checkpoint import save_student as save_student
    from privformers.approx.convert import approximate as approximate
    from privformers.approx.convert import recipe_of as recipe_of
    from privformers.approx.cubic_softmax import CubicReLUSoftmax as CubicReLUSoftmax
    from privformers.approx.cubic_softmax import ReciprocalMLP as ReciprocalMLP
    from privformers.approx.cubic_softmax import cubic_relu_softmax as cubic_relu_softmax
    from privformers.approx.fit_norms import fit_affine_norms as fit_affine_norms
    from privformers.approx.merge import MergeModule as MergeModule
    from privformers.approx.merge import merge_attention as merge_attention
    from privformers.approx.merge import merge_weights as merge_weights
    from privformers.approx.quad_gelu import QuadGELU as QuadGELU
    from privformers.approx.recipes import RECIPES as RECIPES
    from privformers.approx.recipes import Recipe as Recipe
    from privformers.approx.recipes import get_recipe as get_recipe
    from privformers.approx.recipes import register_recipe as register_recipe
    from privformers.approx.two_quad import TwoQuadSoftmax as TwoQuadSoftmax
    from privformers.approx.two_quad import two_quad_softmax as two_quad_softmax
    from privformers.approx.two_relu import TwoReLUSoftmax as TwoReLUSoftmax
    from privformers.approx.two_relu import two_relu_softmax as two_relu_softmax
