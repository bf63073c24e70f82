"""RMS norms (T5LayerNorm, Llama-family RMSNorm, torch nn.RMSNorm): y = w * x / rms(x).

G_w = sum_t g_t * x_t / sqrt(mean(x_t^2) + eps), the normalisation computed in float32 as the
Hugging Face implementations do, then cast back to the input dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers.models.llama.modeling_llama import LlamaRMSNorm
from transformers.models.t5.modeling_t5 import T5LayerNorm

from privformers.dp.pieces import DensePiece, Piece
from privformers.dp.registry import register_rule


def _epsilon(module: nn.Module) -> float:
    for name in ("variance_epsilon", "eps"):
        value = getattr(module, name, None)
        if value is not None:
            return float(value)
    return float(torch.finfo(torch.float32).eps)


@register_rule(T5LayerNorm, LlamaRMSNorm, nn.RMSNorm)
def rms_norm(module: nn.Module, activation: Tensor, grad: Tensor) -> dict[str, Piece]:
    """Scale as a dense per-example piece."""
    x = activation.to(torch.float32) if activation.dtype in (torch.float16, torch.bfloat16) else activation
    normed = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _epsilon(module))
    normed = normed.to(activation.dtype)
    weight = module.weight
    reduce_dims = tuple(range(1, grad.dim() - weight.dim()))
    scale = torch.sum(grad * normed, dim=reduce_dims)
    return {"weight": DensePiece(scale.reshape(grad.shape[0], *weight.shape))}
