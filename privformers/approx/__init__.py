"""MPC-friendly approximations of transformer ops (MPCFormer, THE-X, MERGE) as plain PyTorch modules.

Each approximation is trainable in plaintext and runs under MPC: its math is one function that
the secure runtime intercepts (``overridable``) and replaces by a dedicated protocol.
``approximate(model, recipe)`` converts a Hugging Face model (GPT-2, BERT, RoBERTa, BART, T5);
``save_student`` / ``load_student`` keep the recipe next to the weights.
"""

from privformers.approx.affine_norm import AffineLayerNorm
from privformers.approx.checkpoint import RECIPE_FILE, load_student, read_recipe, save_student
from privformers.approx.convert import approximate, recipe_of
from privformers.approx.cubic_softmax import CubicReLUSoftmax, ReciprocalMLP, cubic_relu_softmax
from privformers.approx.fit_norms import fit_affine_norms
from privformers.approx.merge import MergeModule, merge_attention, merge_weights
from privformers.approx.quad_gelu import QuadGELU, quad_gelu
from privformers.approx.recipes import RECIPES, Recipe, get_recipe, register_recipe
from privformers.approx.two_quad import TwoQuadSoftmax, two_quad_softmax
from privformers.approx.two_relu import TwoReLUSoftmax, two_relu_softmax

__all__ = ["RECIPES", "RECIPE_FILE", "AffineLayerNorm", "CubicReLUSoftmax", "MergeModule", "QuadGELU", "Recipe",
           "ReciprocalMLP", "TwoQuadSoftmax", "TwoReLUSoftmax", "approximate", "cubic_relu_softmax", "fit_affine_norms",
           "get_recipe",
           "load_student", "merge_attention", "merge_weights", "quad_gelu", "read_recipe", "recipe_of",
           "register_recipe", "save_student", "two_quad_softmax", "two_relu_softmax"]
