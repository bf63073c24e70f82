"""Fold a pre-LayerNorm's affine map into the projection that alone reads its output.

In GPT-2's blocks ln_1 feeds only the attention's input projection and ln_2 only the MLP's first
projection, so  LN(x) W + b = n(x) (diag(gamma) W) + (beta W + b)  with n the plain normalisation.
The server rewrites those weights in plaintext before they are masked; every party drops the
LayerNorm's affine parameters (which LayerNorms have one is public architecture, not a weight),
so the secure LayerNorm skips its gamma product and its truncation: two rounds fewer per norm.
Models whose norms feed several consumers (BERT's post-LN, residual streams) are left alone.

The attention's score scaling (1/sqrt(head width), not a power of two) folds the same way into the
query projection: scores come out already scaled, and the public product with its truncation (one
round over every score) disappears.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

# (norm attribute of the block, path to the module whose only input is that norm's output)
_GPT2_PAIRS = (("ln_1", ("attn", "c_attn")), ("ln_1", ("attn", "v_attn")), ("ln_2", ("mlp", "c_fc")))


def fold_layer_norms(model: nn.Module) -> int:
    """Fold eligible LayerNorm affines into the next projection, in place; returns how many were folded."""
    folded = 0
    for block in model.modules():
        if type(block).__name__ != "GPT2Block" and not type(block).__name__.endswith("GPT2Block"):
            continue
        for norm_name, path in _GPT2_PAIRS:
            norm = getattr(block, norm_name, None)
            target = block
            for part in path:
                target = getattr(target, part, None)
            if not _eligible(norm, target):
                continue
            _fold(norm, target)
            setattr(block, norm_name, nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=False))
            folded += 1
    return folded


def _eligible(norm: object, target: object) -> bool:
    return (type(norm) is nn.LayerNorm and norm.elementwise_affine and norm.weight is not None
            and norm.bias is not None and type(target) in (Conv1D, nn.Linear))


@torch.no_grad()
def _fold(norm: nn.LayerNorm, target: nn.Module) -> None:
    gamma, beta = norm.weight.double(), norm.bias.double()
    w = target.weight.double()
    # Conv1D computes x @ W (W: in x out); nn.Linear computes x @ W.T (W: out x in)
    w_in_out = w if isinstance(target, Conv1D) else w.t()
    bias = beta @ w_in_out + (target.bias.double() if target.bias is not None else 0.0)
    scaled = gamma[:, None] * w_in_out
    target.weight.copy_((scaled if isinstance(target, Conv1D) else scaled.t()).to(target.weight.dtype))
    if target.bias is None:
        target.bias = nn.Parameter(bias.to(target.weight.dtype))
    else:
        target.bias.copy_(bias.to(target.bias.dtype))


def fold_attention_scaling(model: nn.Module) -> int:
    """Fold each attention's score scaling into its query projection, in place; returns how many.

    Hugging Face attention modules multiply Q K^T by ``module.scaling``; with the query weights and
    bias scaled by it and ``scaling`` set to 1, the scores are the same. Handles separate query
    projections (``query``: BERT, RoBERTa; ``q_proj``: BART) and GPT-2's fused ``c_attn``."""
    folded = 0
    for module in model.modules():
        scaling = getattr(module, "scaling", None)
        if not isinstance(scaling, float) or scaling == 1.0:
            continue
        query = getattr(module, "query", None) or getattr(module, "q_proj", None)
        if type(query) is nn.Linear:
            _scale_rows(query, scaling, slice(None))
        elif _is_gpt2_self_attention(module):
            _scale_rows(module.c_attn, scaling, slice(0, module.c_attn.weight.shape[0]))
        else:
            continue
        module.scaling = 1.0
        folded += 1
    return folded


def _is_gpt2_self_attention(module: nn.Module) -> bool:
    c_attn = getattr(module, "c_attn", None)
    return (type(c_attn) is Conv1D and not getattr(module, "is_cross_attention", False)
            and c_attn.weight.shape[1] == 3 * c_attn.weight.shape[0])


@torch.no_grad()
def _scale_rows(proj: nn.Module, factor: float, outputs: slice) -> None:
    """Multiply the given output units of a Linear or Conv1D (weight and bias) by factor."""
    if isinstance(proj, Conv1D):
        proj.weight[:, outputs] *= factor
    else:
        proj.weight[outputs] *= factor
    if proj.bias is not None:
        proj.bias[outputs] *= factor
