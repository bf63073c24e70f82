"""The attention function that runs an approximated softmax, registered with Hugging Face's
attention interface under ``ATTENTION``.

A converted model's configs name ``ATTENTION`` as their attention implementation; every
attention module then calls ``approx_attention``, which computes the scores as the eager path
does and hands them, with the public keep-mask, to the module's ``attn_softmax`` (a
TwoQuadSoftmax, TwoReLUSoftmax or CubicReLUSoftmax). Masks are built as for eager attention.
Forward hooks on ``attn_softmax`` see the raw scores (for distillation); the probabilities are
returned as the attention weights (``output_attentions=True``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.modeling_utils import AttentionInterface

from privformers.approx.masks import keep_from_additive

ATTENTION = "privformers_approx"


def approx_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, scaling: float | None = None, dropout: float = 0.0,
                     position_bias: torch.Tensor | None = None, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax'(Q K^T * scaling + position_bias) V with the module's approximated softmax'."""
    softmax = getattr(module, "attn_softmax", None)
    if softmax is None:
        raise TypeError(f"{type(module).__name__} has no attn_softmax: convert the model with privformers.approximate")
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if position_bias is not None:
        scores = scores + position_bias
    probs = softmax(scores, keep_from_additive(attention_mask))
    probs = F.dropout(probs, p=dropout, training=module.training)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


AttentionInterface.register(ATTENTION, approx_attention)
AttentionMaskInterface.register(ATTENTION, eager_mask)
