"""Module rules: a secure implementation for a whole module whose forward is written in raw ops.

Some activations are spelled out op by op (GPT-2's ``NewGELUActivation`` is
``0.5 x (1 + tanh(c (x + 0.044715 x^3)))``), which under MPC would cost a pow, a tanh (exp and
a reciprocal) and several products. A rule computes the same function with one dedicated
protocol. Rules are registered per class name (the model code is not imported here) and only
take over when the input is secret; plaintext calls run the module's own forward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from privformers.secure.tensor import SecretTensor

MODULE_RULES: dict[str, Callable[[torch.nn.Module, SecretTensor], Any]] = {}


def register_module_rule(*class_names: str) -> Callable[[Callable], Callable]:
    """Register the decorated function(module, x) as the secure forward of the named module classes."""

    def deco(rule: Callable) -> Callable:
        for name in class_names:
            MODULE_RULES[name] = rule
        return rule

    return deco


def apply_module_rules(model: torch.nn.Module) -> list[str]:
    """Route secret inputs of every module with a registered rule to it; returns the names routed."""
    routed = []
    for name, module in model.named_modules():
        rule = MODULE_RULES.get(type(module).__name__)
        if rule is None or getattr(module, "_privformers_rule", False):
            continue
        original = module.forward

        def forward(x: Any, *args: Any, _rule: Callable = rule, _mod: torch.nn.Module = module,
                    _orig: Callable = original, **kwargs: Any) -> Any:
            if isinstance(x, SecretTensor) and not args and not kwargs:
                return _rule(_mod, x)
            return _orig(x, *args, **kwargs)

        module.forward = forward
        module._privformers_rule = True
        routed.append(name)
    return routed


@register_module_rule("NewGELUActivation", "GELUTanh", "FastGELUActivation", "GELUPytorchTanh",
                      "PytorchGELUTanh")
def _tanh_gelu(module: torch.nn.Module, x: SecretTensor) -> SecretTensor:
    """The tanh form of GeLU (GPT-2's gelu_new and its fast variants compute the same function)."""
    from privformers.secure.ops.activation import gelu

    return gelu(x, approximate="tanh")
