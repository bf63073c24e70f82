"""Functions a tensor subclass can intercept: the secure runtime swaps in an MPC protocol per function.

An approximation's math lives in one plain function; ``@overridable`` makes a call with any tensor
subclass argument (a secret share, a server weight) go through ``__torch_function__`` with the
function itself as ``func``, so the runtime's op registry can give it a dedicated protocol.
On plain tensors (training, plaintext inference) the function runs as written, with autograd.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch.overrides import handle_torch_function, has_torch_function

F = TypeVar("F", bound=Callable[..., Any])


def overridable(fn: F) -> F:
    """Make fn dispatchable by tensor subclasses among its positional and keyword arguments."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tensors = tuple(a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor))
        if has_torch_function(tensors):
            return handle_torch_function(wrapper, tensors, *args, **kwargs)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
