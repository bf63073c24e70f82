"""Registry of per-layer rules that turn a layer's activations and output gradients into pieces.

Add support for a layer type with one new file in ``privformers/dp/rules/``::

    @register_rule(nn.Linear)
    def linear(module, activation, grad): return {"weight": ..., "bias": ...}

A rule returns a piece per direct parameter name. ``watch`` names the child module whose forward
call is recorded (default: the layer itself) and ``grad_of`` whether the gradient of that call's
output or of its input is used (useful when a parameter enters before a dropout); ``capture``
recomputes the activation from the call's arguments when it is not the first input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from privformers.dp.pieces import Piece

RuleFn = Callable[[nn.Module, Tensor, Tensor], dict[str, Piece]]


@dataclass(frozen=True)
class Rule:
    """A registered rule: the function, which child to watch, and which gradient it needs."""

    fn: RuleFn
    watch: str | None = None
    grad_of: str = "output"
    capture: Callable | None = None  # (module, args, kwargs) -> activation; default: first input


_RULES: dict[type, Rule] = {}


def register_rule(*layer_types: type, watch: str | None = None, grad_of: str = "output",
                  capture: Callable | None = None):
    """Decorator registering ``fn`` as the per-example gradient rule of ``layer_types``."""
    if grad_of not in ("output", "input"):
        raise ValueError(f"grad_of must be 'output' or 'input', got {grad_of!r}")

    def decorate(fn: RuleFn) -> RuleFn:
        for layer_type in layer_types:
            _RULES[layer_type] = Rule(fn, watch, grad_of, capture)
        return fn

    return decorate


def find_rule(module: nn.Module) -> Rule | None:
    """The rule of the most specific registered type in ``module``'s class hierarchy."""
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


def registered_types() -> list[type]:
    """All layer types with a rule (for error messages and docs)."""
    return list(_RULES)
