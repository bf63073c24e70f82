"""Rule lookup follows the class hierarchy; new layer types register with a decorator."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privformers.dp import PrivacyEngine
from privformers.dp.pieces import DensePiece
from privformers.dp.registry import _RULES, find_rule, register_rule


def test_subclass_uses_parent_rule():
    class MyLinear(nn.Linear):
        pass

    assert find_rule(MyLinear(2, 2)) is find_rule(nn.Linear(2, 2))
    assert find_rule(nn.ReLU()) is None


class Scale(nn.Module):
    """y = x * s with a learned vector s."""

    def __init__(self, d):
        super().__init__()
        self.s = nn.Parameter(torch.ones(d, dtype=torch.float64))

    def forward(self, x):
        return x * self.s


def test_unsupported_layer_raises_clear_error():
    model = nn.Sequential(nn.Linear(3, 3), Scale(3))
    with pytest.raises(ValueError, match="no per-example gradient rule.*Scale"):
        PrivacyEngine(model, batch_size=2, sample_size=10, steps=1, max_grad_norm=1, noise_multiplier=1)


def test_registering_a_rule_makes_the_layer_work():
    @register_rule(Scale)
    def scale(module, x, grad):
        return {"s": DensePiece((grad * x).reshape(grad.shape[0], -1, x.shape[-1]).sum(1))}

    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 3).double(), Scale(3))
        x = torch.randn(4, 3, dtype=torch.float64)
        engine = PrivacyEngine(model, batch_size=4, sample_size=10, steps=1, max_grad_norm=1e9,
                               noise_multiplier=0)
        engine.record(4)
        engine.virtual_step(model(x).pow(2).sum(1))
        model.zero_grad()
        model(x).pow(2).sum().backward()
        torch.testing.assert_close(engine.summed[model[1].s], model[1].s.grad)
    finally:
        _RULES.pop(Scale)
