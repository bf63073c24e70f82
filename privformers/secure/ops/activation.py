"""Activations: erf GeLU, tanh-form GeLU (through the engine's tanh), tanh, sigmoid, ReLU."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from privformers.mpc.functions.gelu import gelu as mpc_gelu
from privformers.mpc.functions.sigmoid import sigmoid as mpc_sigmoid
from privformers.mpc.functions.sigmoid import tanh as mpc_tanh
from privformers.mpc.protocols.select import relu as mpc_relu
from privformers.secure.ops.elementwise import add, mul, pow_
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import as_share, secret


@register_op(F.gelu)
def gelu(x: SecretTensor, approximate: str = "none") -> SecretTensor:
    """gelu(x): erf form by the engine's polynomial; 'tanh' form as 0.5 x (1 + tanh(c (x + 0.044715 x^3)))."""
    with x.party.meter.scope("activation"):
        if approximate == "none":
            return secret(mpc_gelu(x.share))
        inner = mul(add(x, mul(pow_(x, 3), 0.044715)), math.sqrt(2.0 / math.pi))
        return mul(mul(x, 0.5), add(tanh(inner), 1.0))


@register_op(torch.tanh, torch.Tensor.tanh, F.tanh)
def tanh(x: SecretTensor) -> SecretTensor:
    with x.party.meter.scope("activation"):
        return secret(mpc_tanh(as_share(x)))


@register_op(torch.sigmoid, torch.Tensor.sigmoid, F.sigmoid)
def sigmoid(x: SecretTensor) -> SecretTensor:
    with x.party.meter.scope("activation"):
        return secret(mpc_sigmoid(as_share(x)))


@register_op(F.relu, torch.relu, torch.Tensor.relu)
def relu(x: SecretTensor, inplace: bool = False) -> SecretTensor:
    with x.party.meter.scope("activation"):
        return secret(mpc_relu(as_share(x)))
