"""Which module is running (forward hooks), for error messages and for charging ops to an op class."""

from __future__ import annotations

import threading

import torch

_local = threading.local()  # parties may be threads of one process: one stack per thread

NORM_WORDS = ("LayerNorm", "RMSNorm")
ACTIVATION_WORDS = ("GELU", "Activation", "ReLU", "Tanh", "Sigmoid", "SiLU")


def _stack() -> list[tuple[str, torch.nn.Module]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def track_modules(model: torch.nn.Module) -> None:
    """Push each module's qualified name on entry to its forward and pop it on exit."""
    for name, module in model.named_modules():
        qual = name or type(module).__name__

        def pre(mod: torch.nn.Module, _args: tuple, qual: str = qual) -> None:
            _stack().append((qual, mod))

        def post(_mod: torch.nn.Module, _args: tuple, _out: object) -> None:
            _stack().pop()

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)


def reset() -> None:
    """Forget stale entries (after a failed forward)."""
    _stack().clear()


def current_module() -> str:
    """'name (ClassName)' of the innermost running module, or '<no module>'."""
    if not _stack():
        return "<no module>"
    name, mod = _stack()[-1]
    return f"{name} ({type(mod).__name__})"


def default_scope() -> str:
    """The meter op class for generic ops, from the innermost norm or activation module running."""
    for name, mod in reversed(_stack()):
        cls = type(mod).__name__
        if any(w in cls for w in NORM_WORDS):
            return "norm"
        if any(w in cls for w in ACTIVATION_WORDS):
            return "activation"
        if name.endswith("lm_head"):
            return "lm_head"
        if cls.endswith("MLP"):   # a gated MLP's act(gate) * up: the activation's second half
            return "activation"
    return "other"
