"""The op registry: one secure implementation per torch function or Tensor method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

OPS: dict[Any, Callable[..., Any]] = {}
# what runs an op with no implementation of its own when its arguments hold server weights and no secret (at
# most one: ``ops/server_local.py``'s, the server computing it in plaintext); see ``register_server_local``
SERVER_LOCAL: list[Callable[[Any, tuple, dict], Any]] = []


class UnsupportedOpError(NotImplementedError):
    """A torch op reached secret data (or a server weight) and has no secure implementation."""


def register_op(*funcs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the secure implementation of every torch op in funcs."""

    def deco(impl: Callable[..., Any]) -> Callable[..., Any]:
        for f in funcs:
            OPS[f] = impl
        return impl

    return deco


def register_server_local(impl: Callable[[Any, tuple, dict], Any]) -> Callable[[Any, tuple, dict], Any]:
    """Register impl ``(func, args, kwargs)`` as what runs any op without a secure implementation of its own whose
    arguments hold server weights and no secret; a later registration replaces it."""
    SERVER_LOCAL[:] = [impl]
    return impl


def op_name(func: Any) -> str:
    """A readable name of a torch function or Tensor method (e.g. 'torch.cumsum', 'torch.Tensor.view')."""
    name = torch.overrides.resolve_name(func)
    return name or getattr(func, "__qualname__", None) or repr(func)
