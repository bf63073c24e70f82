"""MPC-friendly approximations of transformer ops (MPCFormer, THE-X, MERGE) as plain PyTorch modules.

Each approximation is trainable in plaintext and runs under MPC: its math is one function that
the secure runtime intercepts (``overridable``) and replaces by a dedicated protocol.
``approximate(model, recipe)`` converts a Hugging Face model (GPT-2, BERT, RoBERTa, BART, T5);
``save_student`` / ``load_student`` keep the recipe next to the weights.
"""

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
