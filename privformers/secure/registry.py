"""The op registry: one secure implementation per torch function or Tensor method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

OPS: dict[Any, Callable[..., Any]] = {}


class UnsupportedOpError(NotImplementedError):
    """A torch op reached secret data (or a server weight) and has no secure implementation."""


def register_op(*funcs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the secure implementation of every torch op in funcs."""

    def deco(impl: Callable[..., Any]) -> Callable[..., Any]:
        for f in funcs:
            OPS[f] = impl
        return impl

    return deco


def op_name(func: Any) -> str:
    """A readable name of a torch function or Tensor method (e.g. 'torch.cumsum', 'torch.Tensor.view')."""
    name = torch.overrides.resolve_name(func)
    return name or getattr(func, "__qualname__", None) or repr(func)
