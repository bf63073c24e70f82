"""The KV cache's name in a Hugging Face forward call, across the transformers versions we support.

transformers 5.24 renamed the argument and output field ``past_key_values`` to ``cache``; the old
name still works there, with a FutureWarning, until 5.40 removes it. These helpers pass and read the
cache under whichever name the model has, so generation neither warns nor breaks on either side.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn


def cache_kwargs(module: nn.Module, cache: Any) -> dict[str, Any]:
    """``{"cache": cache}`` for a module whose forward takes ``cache``, else ``{"past_key_values": cache}``."""
    takes_cache = "cache" in inspect.signature(module.forward).parameters
    return {"cache": cache} if takes_cache else {"past_key_values": cache}


def returned_cache(output: Any) -> Any:
    """The cache a forward call returned (``output.cache``, or ``past_key_values`` before 5.24)."""
    keys = output.keys() if hasattr(output, "keys") else ()
    if "cache" in keys:
        return output["cache"]
    return output["past_key_values"] if "past_key_values" in keys else None
