"""Named programs that a party process can run: a registry, so ``privformers party`` finds them by name.

A program is registered with ``@register_program(name)`` on a factory ``(args: dict) -> Program``;
its ``format_result(role, result) -> dict`` turns a party's result into plain JSON data.
"""

from __future__ import annotations

import time
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


def register_program(name: str, format_result: Callable[[str, Any], dict] = default_format):
    """Decorator: register a factory ``(args) -> Program`` under name."""

    def deco(factory: Callable[[dict], Program]) -> Callable[[dict], Program]:
        if name in PROGRAMS:
            raise ValueError(f"program {name!r} is already registered")
        PROGRAMS[name] = NamedProgram(name, factory, format_result)
        return factory

    return deco


def _discover() -> None:
    """Import every ``privformers.<area>.programs`` module so its programs register themselves."""
    import importlib
    import pkgutil

    import privformers

    for info in pkgutil.iter_modules(privformers.__path__):
        if info.ispkg and importlib.util.find_spec(f"privformers.{info.name}.programs") is not None:
            importlib.import_module(f"privformers.{info.name}.programs")


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


# -- transport self-tests ------------------------------------------------------
@register_program("echo")
def echo(args: dict) -> Program:
    """Every party sends each peer a tensor of each wire dtype and bytes; reports which arrived intact."""
    n = int(args.get("n", 1000))
    dtypes = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.float64, torch.float32,
              torch.bool)

    def message(role: str, dtype: torch.dtype) -> torch.Tensor:
        return (torch.arange(n) * (1 + len(role))).to(dtype)

    def setup(party: Party) -> dict[str, bool]:
        peers = [r for r in (CLIENT, SERVER, DEALER) if r != party.role]
        for peer in peers:
            for dt in dtypes:
                party.send(peer, message(party.role, dt))
            party.send(peer, f"hello from {party.role}".encode())
        ok = {}
        for peer in peers:
            good = all(torch.equal(party.recv_tensor(peer), message(peer, dt)) for dt in dtypes)
            ok[peer] = good and party.recv(peer) == f"hello from {peer}".encode()
        return ok

    return Program(run=lambda party, ok: ok, setup=setup)


@register_program("stall")
def stall(args: dict) -> Program:
    """Everyone exchanges a tick with every peer every 50 ms for ``seconds`` (for failure tests)."""
    seconds = float(args.get("seconds", 30))

    def run(party: Party, _state: Any) -> int | None:
        if party.mode == "online":
            return None
        peers = [r for r in (SERVER, CLIENT, DEALER) if r != party.role]   # the server is heard first
        ticks = max(1, int(seconds / 0.05))
        for i in range(ticks):
            for peer in peers:
                party.send(peer, torch.tensor([i]))
            for peer in peers:
                party.recv_tensor(peer)
            time.sleep(0.05)
        return ticks

    return Program(run=run)
