"""Shape-only placeholder parameters for the parties that hold no weights.

The client and the dealer build the model's architecture only for its shapes: every parameter becomes a
server-held ``ServerParam`` (``weights.py``) and its placeholder value is never read. Built inside
``shape_only_parameters()``, each parameter is moved to PyTorch's ``meta`` device as it is registered, so a
7B architecture costs them no memory and no initialisation time. Buffers stay real: rotary embeddings'
inverse frequencies and Gemma's embedding scale are computed from the public config and used as public values.

The switch is per thread (parties may be threads of one process, building their models at the same time).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

_local = threading.local()
_original = nn.Module.register_parameter


def _register_parameter(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
    _original(self, name, param)
    if getattr(_local, "shape_only", False) and param is not None and param.device.type != "meta":
        self._parameters[name] = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)


@contextmanager
def shape_only_parameters(enabled: bool = True) -> Iterator[None]:
    """Parameters registered in this thread inside the block live on the meta device (shapes, no data)."""
    if nn.Module.register_parameter is not _register_parameter:
        nn.Module.register_parameter = _register_parameter
    before = getattr(_local, "shape_only", False)
    _local.shape_only = enabled
    try:
        yield
    finally:
        _local.shape_only = before
