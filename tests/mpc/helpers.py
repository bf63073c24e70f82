"""Helpers for engine tests: run a function of client-held inputs under MPC and decode."""

from __future__ import annotations

from collections.abc import Callable

import torch

from privformers.mpc.party import CLIENT, Party
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.session import run_local
from privformers.mpc.shares import AShare


def run_on_secret(fn: Callable[..., AShare], *xs: torch.Tensor, frac_bits: int = 16, encode: bool = True):
    """Share xs from the client, apply fn, reveal the result to the client; returns (value, run)."""

    def program(party: Party, _state) -> torch.Tensor | None:
        shares = [share_input(party, CLIENT, x, tuple(x.shape), encode=encode) for x in xs]
        return reveal_to(fn(*shares), CLIENT)

    run = run_local(program, frac_bits=frac_bits)
    return run.results["client"], run


def cost_of(fn: Callable[..., AShare], *xs: torch.Tensor, frac_bits: int = 16) -> dict:
    """Online bytes the client sends and rounds it takes, for fn alone (inputs and reveal excluded)."""
    from privformers.mpc.meter import diff

    seen: dict = {}

    def program(party: Party, _state):
        shares = [share_input(party, CLIENT, x, tuple(x.shape)) for x in xs]
        before = party.meter.snapshot()
        out = fn(*shares)
        if party.mode == "online":
            d = diff(party.meter.snapshot(), before)
            seen[party.role] = {
                "bytes": sum(v for k, v in d["bytes"].items() if k.startswith("online/")),
                "rounds": sum(v for k, v in d["rounds"].items() if k.startswith("online/")),
                "offline_bytes": 0,
            }
        return out

    run_local(program, frac_bits=frac_bits)
    return seen
