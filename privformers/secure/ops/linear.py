"""Linear layers: nn.Linear (x W^T + b) and GPT-2's Conv1D (addmm: b + x W), W and b server-held.

The bias is added by the server to its own share: it is the server's secret and never sent.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from privformers.secure.ops.elementwise import add
from privformers.secure.ops.matmul import weight_product
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.tracking import current_module


@register_op(F.linear)
def linear(x: SecretTensor, weight: ServerParam, bias: ServerParam | None = None) -> SecretTensor:
    """x @ W.T + b."""
    if not (isinstance(x, SecretTensor) and isinstance(weight, ServerParam)):
        raise UnsupportedOpError(f"linear needs a secret input and a server weight (in module {current_module()})")
    y = weight_product(x, weight, "matmul_t")
    return y if bias is None else add(y, bias)


@register_op(torch.addmm, torch.Tensor.addmm)
def addmm(bias: Any, x: SecretTensor, weight: ServerParam, beta: float = 1, alpha: float = 1) -> SecretTensor:
    """bias + x @ W (Conv1D)."""
    if beta != 1 or alpha != 1 or not isinstance(weight, ServerParam):
        raise UnsupportedOpError(f"addmm with beta/alpha or a non-weight matrix (in module {current_module()})")
    return add(weight_product(x, weight, "matmul"), bias)
