"""LayerNorm with server-held affine parameters: gamma by the weight's one-time mask, beta added
by the server. (T5's RMS norm runs as its own tensor code: pow, mean, rsqrt, mul.)"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from privformers.mpc.functions.layernorm import normalize
from privformers.secure.ops.elementwise import add, mul
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.tracking import current_module
from privformers.secure.values import secret


@register_op(F.layer_norm)
def layer_norm(x: SecretTensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> SecretTensor:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last dimension."""
    if len(tuple(normalized_shape)) != 1:
        raise UnsupportedOpError(f"layer_norm over several dimensions (in module {current_module()})")
    with x.party.meter.scope("norm"):
        y = secret(normalize(x.share, eps))
        if weight is not None:
            y = mul(y, weight)
        return y if bias is None else add(y, bias)
