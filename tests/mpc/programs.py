"""Programs for the test suite only, found by party processes through ``PRIVFORMERS_PROGRAM_MODULES``
(``tests/conftest.py`` sets it to this module): ``echo`` checks the wire, ``stall`` keeps a session busy
for failure tests."""

from __future__ import annotations

import time
from typing import Any

import torch

from privformers.mpc.party import CLIENT, DEALER, SERVER, Party
from privformers.mpc.programs import register_program
from privformers.mpc.session import Program


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
