"""Running a secure program on the three parties: setup, offline pass, online pass.

A program is SPMD: every party runs the same code on its own shares. The dealer runs it once
on shape-only tensors, producing the correlated randomness; client and server run it twice,
first shape-only (the offline pass, which draws and receives that material), then on real
shares (the online pass, which only talks to each other).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from privformers.mpc.meter import Meter
from privformers.mpc.party import CLIENT, DEALER, ROLES, SERVER, Party
from privformers.mpc.ring import FixedPoint
from privformers.mpc.transport.base import Channel
from privformers.mpc.transport.local import local_pair


@dataclass
class Program:
    """What a session computes: ``setup`` once (e.g. mask weights), then ``run`` offline and online."""

    run: Callable[[Party, Any], Any]
    setup: Callable[[Party], Any] | None = None


def execute(party: Party, program: Program,
            on_online: tuple[Callable[[], Any], Callable[[], Any]] | None = None) -> Any:
    """Run the program on this party through all phases; returns the online result (None on the dealer).

    on_online: (start, stop) callbacks around the online pass (a profiler's enable/disable)."""
    party.set_mode("setup")
    state = program.setup(party) if program.setup else None
    party.set_mode("offline")
    offline_result = program.run(party, state)
    if party.is_dealer:
        return offline_result
    party.set_mode("online")
    party.meter.start_clock()
    if on_online:
        on_online[0]()
    try:
        result = program.run(party, state)
    finally:
        if on_online:
            on_online[1]()
    party.meter.stop_clock()
    if party.store:
        raise RuntimeError(f"{len(party.store)} correlated items left unused: offline and online programs differ")
    return result


@dataclass
class LocalRun:
    """Results and meters of an in-process run."""

    results: dict[str, Any] = field(default_factory=dict)
    meters: dict[str, Meter] = field(default_factory=dict)
    parties: dict[str, Party] = field(default_factory=dict)


def local_links(timeout: float = 120.0) -> dict[str, dict[str, Channel]]:
    """In-process links between every pair of the three roles."""
    links: dict[str, dict[str, Channel]] = {r: {} for r in ROLES}
    for a, b in ((CLIENT, SERVER), (DEALER, CLIENT), (DEALER, SERVER)):
        links[a][b], links[b][a] = local_pair(a, b, timeout)
    return links


def run_local(program: Program | Callable[[Party, Any], Any], frac_bits: int = 16,
              timeout: float = 120.0) -> LocalRun:
    """Run a program with the three parties as threads of this process (tests, quick checks)."""
    if not isinstance(program, Program):
        program = Program(run=program)
    links = local_links(timeout)
    out = LocalRun()
    errors: dict[str, BaseException] = {}
    fp = FixedPoint(frac_bits)

    def target(role: str) -> None:
        party = Party(role, links[role], fp)
        out.parties[role], out.meters[role] = party, party.meter
        try:
            party.handshake()
            out.results[role] = execute(party, program)
        except BaseException as exc:  # noqa: BLE001 - reported below, and peers are released
            errors[role] = exc
            party.close()

    threads = [threading.Thread(target=target, args=(r,), name=f"party-{r}") for r in ROLES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        role, exc = next(iter(errors.items()))
        first = min(errors.items(), key=lambda kv: isinstance(kv[1], ConnectionError))
        role, exc = first
        raise RuntimeError(f"{role} failed: {exc}") from exc
    return out
