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

RMSNorm's weight (Llama family) folds into the projections that alone read the norm: RMSNorm(x) W^T =
n(x) (W diag(w))^T, with Gemma's 1 + w in place of w (``fold_rms_norms``).
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
        if not isinstance(scaling, float) or scaling == 1.0 or hasattr(module, "q_norm"):
            continue   # a query norm (Qwen3, Gemma 3) would undo a scaled projection
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


# RMSNorm classes of the Llama family and the form of their weight: "w" (x_hat * w) or "1+w" (Gemma)
RMS_NORMS = {"LlamaRMSNorm": "w", "Qwen2RMSNorm": "w", "Qwen3RMSNorm": "w", "MistralRMSNorm": "w",
             "Phi3RMSNorm": "w", "GemmaRMSNorm": "1+w", "Gemma2RMSNorm": "1+w", "Gemma3RMSNorm": "1+w"}
# (norm attribute of a decoder layer, the projections that alone read its output); Gemma 2 and 3 normalise
# the attention's output with post_attention_layernorm (it is then added to the residual: not foldable)
_RMS_PAIRS = (("input_layernorm", ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")),
              ("input_layernorm", ("self_attn.qkv_proj",)),
              ("post_attention_layernorm", ("mlp.gate_proj", "mlp.up_proj")),
              ("post_attention_layernorm", ("mlp.gate_up_proj",)),
              ("pre_feedforward_layernorm", ("mlp.gate_proj", "mlp.up_proj")))


def _rms_weight(norm: nn.Module) -> torch.Tensor:
    """The effective per-feature weight: w, or 1 + w for Gemma's norms."""
    w = norm.weight.detach().double()
    return 1.0 + w if RMS_NORMS[type(norm).__name__] == "1+w" else w


def _rms_eps(norm: nn.Module) -> float:
    return float(getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6)))


def _module(root: nn.Module, path: str) -> nn.Module | None:
    for part in path.split("."):
        root = getattr(root, part, None)
        if root is None:
            return None
    return root


def fold_rms_norms(model: nn.Module) -> int:
    """Fold the weights of the Llama family's RMSNorms into the projections that alone read them, in place;
    returns how many were folded. Every RMSNorm of ``RMS_NORMS`` becomes a ``torch.nn.RMSNorm`` (same eps):
    without affine weight where folded (W <- diag(w) W for each reader), with weight w (Gemma: 1 + w, so
    every norm then computes x_hat * weight) where its output is read elsewhere too (a residual branch, a
    tied LM head, Qwen3's per-head query and key norms, whose weight rotary would have to commute with).

    Which norm feeds which projection is public architecture: the decoder layer's pre-attention and pre-MLP
    norms (``_RMS_PAIRS``) and the final norm before an untied LM head or a classifier's ``score``."""
    folded = 0
    pairs: list[tuple[nn.Module, str, list[nn.Module]]] = []
    for layer in model.modules():
        if not type(layer).__name__.endswith("DecoderLayer"):
            continue
        for norm_name, paths in _RMS_PAIRS:
            norm = getattr(layer, norm_name, None)
            if norm_name == "post_attention_layernorm" and hasattr(layer, "pre_feedforward_layernorm"):
                continue
            targets = [_module(layer, p) for p in paths]
            if type(norm).__name__ in RMS_NORMS and all(type(t) is nn.Linear for t in targets):
                pairs.append((layer, norm_name, targets))
    base = getattr(model, "model", None)
    head = getattr(model, "lm_head", None) or getattr(model, "score", None)
    embed = getattr(base, "embed_tokens", None) if base is not None else None
    if (base is not None and type(getattr(base, "norm", None)).__name__ in RMS_NORMS and type(head) is nn.Linear
            and (embed is None or head.weight is not embed.weight)):
        pairs.append((base, "norm", [head]))
    for owner, norm_name, targets in pairs:
        norm = getattr(owner, norm_name)
        _fold_rms(_rms_weight(norm), targets)
        setattr(owner, norm_name, nn.RMSNorm(norm.weight.shape, eps=_rms_eps(norm), elementwise_affine=False))
        folded += 1
    for name, module in list(model.named_modules()):
        if type(module).__name__ in RMS_NORMS:   # not folded: x_hat * w with the effective weight
            plain = nn.RMSNorm(module.weight.shape, eps=_rms_eps(module), device=module.weight.device)  # meta: shapes
            with torch.no_grad():
                plain.weight.copy_(_rms_weight(module).to(plain.weight.dtype))
            owner, _, attr = name.rpartition(".")
            setattr(model.get_submodule(owner) if owner else model, attr, plain)
    return folded


@torch.no_grad()
def _fold_rms(weight: torch.Tensor, targets: list[nn.Module]) -> None:
    """W <- W diag(weight) for nn.Linear readers (x @ W.T: scale the input columns)."""
    for t in targets:
        t.weight.copy_((t.weight.double() * weight[None, :]).to(t.weight.dtype))
