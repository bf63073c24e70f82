"""Softmax along a dimension, applying the public keep-mask collected from additive attention masks."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from privformers.mpc.functions.softmax import softmax as mpc_softmax
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import secret


@register_op(F.softmax, torch.softmax, torch.Tensor.softmax)
def softmax(x: SecretTensor, dim: int = -1, *args: Any, **kwargs: Any) -> SecretTensor:
    """Max subtraction, exp, reciprocal of the sum (the engine's softmax); masked entries get 0."""
    with x.party.meter.scope("softmax"):
        return secret(mpc_softmax(x.share, dim=dim, mask=x.mask))
