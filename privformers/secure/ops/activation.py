"""Activations: erf GeLU, tanh-form GeLU (through the engine's tanh), SiLU, tanh, sigmoid, ReLU."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from privformers.mpc.functions.gelu import gelu as mpc_gelu
from privformers.mpc.functions.sigmoid import sigmoid as mpc_sigmoid
from privformers.mpc.functions.sigmoid import tanh as mpc_tanh
from privformers.mpc.functions.silu import silu_raw
from privformers.mpc.protocols.select import relu as mpc_relu
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import as_share, secret


@register_op(F.gelu)
def gelu(x: SecretTensor, approximate: str = "none") -> SecretTensor:
    """gelu(x) in either form ('none': erf, 'tanh'), each by the engine's GeLU polynomial fitted to it.

    A linear layer's output still to be truncated goes in as it is: GeLU's rounds truncate it."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: unknown approximate={approximate!r}")
    form = "erf" if approximate == "none" else "tanh"
    with x.party.meter.scope("activation"):
        if isinstance(x, SecretTensor) and x.pending:
            return secret(mpc_gelu(x.raw, form, pending=x.pending))
        return secret(mpc_gelu(as_share(x), form))


@register_op(F.silu)
def silu(x: SecretTensor, inplace: bool = False) -> SecretTensor:
    """silu(x) = x sigmoid(x) by the engine's piecewise quartic (3 rounds). The input's pending truncation
    is folded into its rounds, and the output's is left pending: a gated MLP's product takes it in its
    own opening, so act(gate) * up costs SiLU's 3 rounds and one."""
    with x.party.meter.scope("activation"):
        if isinstance(x, SecretTensor) and x.pending:
            y, k = silu_raw(x.raw, pending=x.pending)
        else:
            y, k = silu_raw(as_share(x))
        return secret(y, pending=k, scope="activation")


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
