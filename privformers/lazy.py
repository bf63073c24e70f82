"""Package namespaces whose names import on first use, so `privformers --help` does not load torch's
and transformers' model code (a package's ``__init__`` that imports its modules runs whenever any of
its submodules, such as its ``commands``, is imported)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """(``__getattr__``, ``__dir__``) for a package exporting ``names``: public name -> submodule.

    The first access to a name imports ``package.<submodule>`` and caches the attribute in the package.
    A name may not be its own submodule's name: importing that submodule binds the name to the module."""
    clashes = sorted(name for name, module in names.items() if name == module)
    if clashes:
        raise ValueError(f"{package}: {', '.join(clashes)} must be imported eagerly (same name as the submodule)")

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{names[name]}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(names) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
