"""Strict JSON for reports: what every parser accepts (no ``NaN`` or ``Infinity``).

Imports only the standard library: the command line uses it before anything heavy loads."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth of dicts, lists and tuples) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def strict_json(value: Any, indent: int | None = None) -> str:
    """JSON that every parser accepts: non-finite floats become null (``json.dumps`` would write the
    non-standard ``NaN`` and ``Infinity``), and ``allow_nan=False`` makes any slip an error, not bad output."""
    return json.dumps(finite_or_none(value), indent=indent, allow_nan=False)
