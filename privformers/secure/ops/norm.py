"""LayerNorm with server-held affine parameters: gamma by the weight's one-time mask, beta added
by the server; RMSNorm (``F.rms_norm``: the Llama family's norms, which ``secure/fold.py`` turns into
``nn.RMSNorm`` with their weight folded or in plain ``x * w`` form). (T5's RMS norm runs as its own
tensor code: pow, mean, rsqrt, mul.)"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F

from privformers.mpc.functions.layernorm import normalize
from privformers.mpc.functions.rmsnorm import rms_normalize_raw
from privformers.secure.ops.elementwise import add, mul
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
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


@register_op(F.rms_norm)
def rms_norm(x: SecretTensor, normalized_shape: Any, weight: Any = None, eps: float | None = None) -> SecretTensor:
    """x / sqrt(mean(x^2) + eps) * w over the last dimension (``mpc/functions/rmsnorm.py``: 7 rounds for a
    decode row). Without a weight (folded) the output's truncation is left pending for the next projection;
    a server weight costs its masked product and a truncation."""
    if len(tuple(normalized_shape)) != 1 or not isinstance(x, SecretTensor):
        raise UnsupportedOpError(f"rms_norm over several dimensions or of a non-secret (in module {current_module()})")
    if eps is None:
        raise UnsupportedOpError(f"rms_norm without an explicit eps (in module {current_module()})")
    if weight is not None and not isinstance(weight, ServerParam):
        raise UnsupportedOpError(f"rms_norm with a public weight (in module {current_module()})")
    with x.party.meter.scope("norm"):
        y, k = rms_normalize_raw(x.raw, eps, pending=x.pending)
        y = secret(y, pending=k, scope="norm")
        return y if weight is None else mul(y, weight)
