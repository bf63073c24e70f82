"""Softmax along a dimension, applying the public keep-mask collected from additive attention masks and,
in a padded batch, the client's secret key mask (``secure/key_mask.py``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from privformers.mpc.functions.softmax import softmax as mpc_softmax
from privformers.secure.key_mask import apply_key_mask, current_key_mask
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import secret


@register_op(F.softmax, torch.softmax, torch.Tensor.softmax)
def softmax(x: SecretTensor, dim: int = -1, *args: Any, **kwargs: Any) -> SecretTensor:
    """Max subtraction, exp, reciprocal of the sum (the engine's softmax); masked entries get 0. With a
    secret key mask active (a padded batch) the scores' padded keys are pushed down first (1 round)."""
    with x.party.meter.scope("softmax"):
        scores = x.share
        keep = current_key_mask()
        if keep is not None and dim % x.dim() == x.dim() - 1:
            scores = apply_key_mask(scores, keep)
        return secret(mpc_softmax(scores, dim=dim, mask=x.mask))
