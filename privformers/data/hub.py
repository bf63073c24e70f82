"""Hub data set names (``hf:NAME``): need the optional ``datasets`` library and network access."""

from __future__ import annotations

import importlib.util

HUB_PREFIX = "hf:"


def is_hub_name(path: object) -> bool:
    """True for ``hf:NAME`` strings, which name a hub data set instead of a local file."""
    return isinstance(path, str) and path.startswith(HUB_PREFIX)


def reject_hub_name(name: str) -> None:
    """Raise a clear error: hub loading is not supported without ``datasets`` (and not wired yet with it)."""
    if importlib.util.find_spec("datasets") is None:
        raise RuntimeError(
            f"{name!r} names a hub data set, which needs the `datasets` library (not installed) and network "
            "access; download the file and pass its local path instead"
        )
    raise RuntimeError(
        f"{name!r}: loading hub data sets is not supported yet; export the split to a local file "
        "(e.g. `datasets.load_dataset(...).to_csv(...)`) and pass its path"
    )
