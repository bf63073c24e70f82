"""What the program ``generate-layers`` adds to ``generate`` (``programs.py`` registers both): each step's cost
split between the decoder layers and the rest (embedding, final norm, LM head, argmax), and the bytes each party
holds for the weights. ``bench generate`` reads it to report a per-layer and a head cost, and, for a model cut
to fewer layers (``--layers N``), a full-model figure extrapolated from them.

Forward hooks on the model and on its decoder layers read this party's meter before and after each layer: the
online bytes it sent, its rounds and its wall time inside the layers, per forward pass (one pass per step), in
the offline pass (the correlated material: the dealer's whole work, the client's and server's share of it) and in
the online pass. Nothing here changes what the parties compute.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from privformers.mpc.party import Party
from privformers.mpc.session import Program
from privformers.secure.tensor import ServerParam


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's stack of decoder layers: the ModuleList as long as its configured number of layers."""
    config = model.config
    n = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n and n:
            return module
    raise ValueError(f"no stack of {n} decoder layers in {type(model).__name__}")


def held_bytes(model: nn.Module) -> tuple[int, int]:
    """(bytes this party holds for the server's weights, number of weight parameters), tied weights once."""
    seen: dict[int, ServerParam] = {}
    for module in model.modules():
        for t in list(module._parameters.values()) + list(module._buffers.values()):
            if isinstance(t, ServerParam):
                seen[id(t.weight)] = t
    held = sum(p.weight.nbytes() for p in seen.values())
    plain = sum(p._plain.numel() * p._plain.element_size() for p in seen.values() if p._plain is not None)
    return held + plain, sum(p.numel() for p in seen.values())


def _counts(party: Party) -> tuple[int, int, float]:
    snap = party.meter.snapshot()
    return sum(snap["bytes"].values()), sum(snap["rounds"].values()), time.perf_counter()


def _install(party: Party, model: nn.Module, records: dict[str, list[dict]]) -> None:
    """Hooks: a new record per forward pass, and each layer's bytes, rounds and seconds added to it."""
    marks: dict[str, Any] = {}

    def start_pass(_mod: nn.Module, _args: tuple, _kwargs: dict) -> None:
        records.setdefault(party.mode, []).append({"layers": {"bytes": 0, "rounds": 0, "seconds": 0.0},
                                                   "forward_seconds": 0.0})
        marks["pass"] = time.perf_counter()

    def end_pass(_mod: nn.Module, _args: tuple, _kwargs: dict, _out: Any) -> None:
        records[party.mode][-1]["forward_seconds"] = round(time.perf_counter() - marks["pass"], 6)

    def enter(_mod: nn.Module, _args: tuple) -> None:
        marks["layer"] = _counts(party)

    def leave(_mod: nn.Module, _args: tuple, _out: Any) -> None:
        b0, r0, t0 = marks["layer"]
        b1, r1, t1 = _counts(party)
        inside = records[party.mode][-1]["layers"]
        inside["bytes"] += b1 - b0
        inside["rounds"] += r1 - r0
        inside["seconds"] = round(inside["seconds"] + t1 - t0, 6)

    model.register_forward_pre_hook(start_pass, with_kwargs=True)
    model.register_forward_hook(end_pass, with_kwargs=True)
    for layer in decoder_layers(model):
        layer.register_forward_pre_hook(enter)
        layer.register_forward_hook(leave)


def with_layer_costs(inner: Program) -> Program:
    """The program inner (``generate``) with hooks on its model: the result adds ``layer_costs`` ({"offline":
    [...], "online": [...]}, one record per forward pass: this party's bytes, rounds and seconds inside the
    decoder layers, and the pass's seconds), ``layers`` (how many), ``held_bytes`` and ``params``
    (``held_bytes``)."""
    records: dict[str, list[dict]] = {}
    info: dict[str, int] = {}

    def setup(party: Party) -> nn.Module:
        model = inner.setup(party)
        _install(party, model, records)
        info["held_bytes"], info["params"] = held_bytes(model)
        info["layers"] = len(decoder_layers(model))
        return model

    def run(party: Party, model: nn.Module) -> dict:
        with torch.no_grad():
            result = inner.run(party, model)
        return {**result, "layer_costs": {k: list(v) for k, v in records.items()}, **info}

    return Program(run=run, setup=setup, material_budget=inner.material_budget)
