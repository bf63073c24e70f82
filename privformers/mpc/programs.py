"""Named programs that a party process can run: a registry, so ``privformers party`` finds them by name.

A program is registered with ``@register_program(name)`` on a factory ``(args: dict) -> Program``;
its ``format_result(role, result) -> dict`` turns a party's result into plain JSON data. A party finds
the programs of every ``privformers.<area>.programs`` module, and of the modules named in
``PRIVFORMERS_PROGRAM_MODULES`` (comma-separated; the test suite's own, ``tests.mpc.programs``, this way).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from privformers.mpc.party import CLIENT, DEALER, SERVER, Party
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.weights import ServerWeight
from privformers.mpc.session import Program
from privformers.mpc.shares import AShare


def to_json(value: Any) -> Any:
    """Tensors as nested lists (bytes as hex), containers recursively."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def default_format(role: str, result: Any) -> dict:
    """{"result": ...} with tensors as lists; None where the party learns nothing."""
    return {"result": to_json(result)}


@dataclass(frozen=True)
class NamedProgram:
    """A registered program: how to build it from arguments and how to report its result."""

    name: str
    build: Callable[[dict], Program]
    format_result: Callable[[str, Any], dict]


PROGRAMS: dict[str, NamedProgram] = {}
PROGRAM_MODULES_ENV = "PRIVFORMERS_PROGRAM_MODULES"   # more modules whose programs a party may run


def register_program(name: str, format_result: Callable[[str, Any], dict] = default_format):
    """Decorator: register a factory ``(args) -> Program`` under name."""

    def deco(factory: Callable[[dict], Program]) -> Callable[[dict], Program]:
        if name in PROGRAMS:
            raise ValueError(f"program {name!r} is already registered")
        PROGRAMS[name] = NamedProgram(name, factory, format_result)
        return factory

    return deco


def _discover() -> None:
    """Import every ``privformers.<area>.programs`` module, and each module named in
    ``PRIVFORMERS_PROGRAM_MODULES``, so that their programs register themselves."""
    import importlib
    import pkgutil

    import privformers

    for info in pkgutil.iter_modules(privformers.__path__):
        if info.ispkg and importlib.util.find_spec(f"privformers.{info.name}.programs") is not None:
            importlib.import_module(f"privformers.{info.name}.programs")
    for name in os.environ.get(PROGRAM_MODULES_ENV, "").split(","):
        if name.strip():
            importlib.import_module(name.strip())


def get_program(name: str) -> NamedProgram:
    if name not in PROGRAMS:
        _discover()
    try:
        return PROGRAMS[name]
    except KeyError:
        raise KeyError(f"unknown program {name!r}; known: {sorted(PROGRAMS)}") from None


# -- linear-demo --------------------------------------------------------------
def linear_demo_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Public test inputs: the client's x (1x8), the server's W (8x4) and b (4)."""
    x = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64).reshape(1, 8)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(8, 4, generator=g, dtype=torch.float64) * 0.5
    b = torch.randn(4, generator=g, dtype=torch.float64) * 0.1
    return x, w, b


def _format_linear(role: str, result: Any) -> dict:
    what = {CLIENT: "learns y = x @ W + b; never sees W or b",
            SERVER: "holds W and b; learns nothing about x or y",
            DEALER: "supplies correlated randomness; sees no input or output"}[role]
    flat = result.reshape(-1) if isinstance(result, torch.Tensor) else None
    return {"role_view": what, "result": to_json(flat)}


@register_program("linear-demo", _format_linear)
def linear_demo(args: dict) -> Program:
    """y = trunc(x @ W) + b with x from the client and (W, b) from the server, revealed to the client.

    Args: x (1x8, the client's own), w (8x4) and b (4) (the server's own), as nested lists; a value not
    given comes from ``linear_demo_inputs(seed)`` (public test inputs, the same in every party)."""
    seed = int(args.get("seed", 0))

    def own(name: str, index: int) -> torch.Tensor:
        if name in args:
            return torch.tensor(args[name], dtype=torch.float64)
        return linear_demo_inputs(seed)[index]

    shapes = {"x": (1, 8), "w": (8, 4), "b": (4,)}

    def setup(party: Party) -> ServerWeight:
        w = own("w", 1) if party.role == SERVER else None
        if w is not None and tuple(w.shape) != shapes["w"]:
            raise ValueError(f"w must have shape {shapes['w']}, not {tuple(w.shape)}")
        return ServerWeight(party, w, shapes["w"], "W")

    def run(party: Party, weight: ServerWeight) -> torch.Tensor | None:
        x = own("x", 0) if party.role == CLIENT else None
        if x is not None and tuple(x.shape) != shapes["x"]:
            raise ValueError(f"x must have shape {shapes['x']}, not {tuple(x.shape)}")
        xs = share_input(party, CLIENT, x, shapes["x"])
        y = trunc(weight.product(xs))
        if party.role == SERVER and not party.symbolic:   # the bias is the server's own: it adds it alone
            y = AShare(party, y.data + party.fp.encode(own("b", 2)))
        return reveal_to(y, CLIENT)

    return Program(run=run, setup=setup)
