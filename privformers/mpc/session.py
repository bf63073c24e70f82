"""Running a secure program on the three parties: setup, offline pass, online pass.

A program is SPMD: every party runs the same code on its own shares. The dealer runs it once
on shape-only tensors, producing the correlated randomness; client and server run it twice,
first shape-only (the offline pass, which draws and receives that material), then on real
shares (the online pass, which only talks to each other).

A program with ``material_budget`` streams instead: the offline pass runs in a second thread at
most that many bytes of material ahead of the online pass, so a party never holds a whole
forward pass's material (BERT-base at 128 tokens makes 11 GB per computing party).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from privformers.mpc.material import MaterialQueue
from privformers.mpc.meter import Meter
from privformers.mpc.party import CLIENT, DEALER, ROLES, SERVER, Party
from privformers.mpc.ring import FixedPoint
from privformers.mpc.ringmath import gemm_device
from privformers.mpc.transport.base import Channel, TransportError
from privformers.mpc.transport.local import local_pair


@dataclass
class Program:
    """What a session computes: ``setup`` once (e.g. mask weights), then ``run`` offline and online.

    material_budget: bytes of correlated material a computing party may hold ahead of its online
    pass; None makes all of it before the online pass starts (fastest online, most memory)."""

    run: Callable[[Party, Any], Any]
    setup: Callable[[Party], Any] | None = None
    material_budget: int | None = None


def execute(party: Party, program: Program,
            on_online: tuple[Callable[[], Any], Callable[[], Any]] | None = None) -> Any:
    """Run the program on this party through all phases; returns the online result (None on the dealer).

    on_online: (start, stop) callbacks around the online pass (a profiler's enable/disable)."""
    party.set_mode("setup")
    state = program.setup(party) if program.setup else None
    if program.material_budget is not None and not party.is_dealer:
        return _execute_streamed(party, program, state, on_online)
    party.set_mode("offline")
    offline_result = program.run(party, state)
    if party.is_dealer:
        return offline_result
    _ready(party)
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
    if party.store and party.ended_early:
        party.store.clear()   # a deliberate early end (e.g. generation at its stop token): the rest is dropped
    if party.store:
        raise RuntimeError(f"{len(party.store)} correlated items left unused: offline and online programs differ")
    return result


def _ready(party: Party) -> None:
    """Client and server both finish their offline pass before either starts its online clock: one tiny
    exchange, charged to the offline phase. Their offline passes differ in length (different material,
    different local work), and without it the party that finishes first would count, in its first online
    step, the wait for the other's offline tail (up to 0.4 s for a MiniLM forward at 128 tokens)."""
    party.send(party.peer, torch.zeros(1, dtype=torch.int64))
    if tuple(party.recv_tensor(party.peer).shape) != (1,):
        raise TransportError(f"{party.peer} sent a malformed ready message")


def _execute_streamed(party: Party, program: Program, state: Any,
                      on_online: tuple[Callable[[], Any], Callable[[], Any]] | None) -> Any:
    """Client or server: the offline pass in a thread feeding a bounded queue, the online pass here."""
    queue = MaterialQueue(program.material_budget)
    party.store = queue
    offline_meter = Meter()
    offline_meter.phase = "offline"

    def offline() -> None:
        try:
            with party.thread_pass("offline", offline_meter, (DEALER,)):
                program.run(party, state)
        except BaseException as exc:  # noqa: BLE001 - handed to the online pass, which raises it
            queue.finish(exc)
        else:
            queue.finish()

    producer = threading.Thread(target=offline, name=f"{party.role}-offline", daemon=True)
    party.set_mode("online")
    party.meter.start_clock()
    if on_online:
        on_online[0]()
    try:
        with party.thread_pass("online", party.meter, (party.peer,)):
            producer.start()
            result = program.run(party, state)
    except BaseException:
        queue.cancel()
        raise
    finally:
        if on_online:
            on_online[1]()
    party.meter.stop_clock()
    if party.ended_early:
        raise RuntimeError("a program that ends early needs all its material made first (no material_budget)")
    producer.join()
    if queue.error is not None:
        raise RuntimeError(f"the offline pass failed: {queue.error}") from queue.error
    if len(queue):
        raise RuntimeError(f"{len(queue)} correlated items left unused: offline and online programs differ")
    party.meter.absorb(offline_meter)
    party.material_stream = {"peak": queue.peak, "largest": queue.largest, "total": queue.total}
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
              timeout: float = 120.0, server_gemm_device: str = "cpu") -> LocalRun:
    """Run a program with the three parties as threads of this process (tests, quick checks).

    server_gemm_device: where the server's plaintext-weight products run (``Party``'s gemm_device)."""
    if not isinstance(program, Program):
        program = Program(run=program)
    gemm_device(server_gemm_device)   # a device that is not there fails here, not inside a party's thread
    links = local_links(timeout)
    out = LocalRun()
    errors: dict[str, BaseException] = {}
    fp = FixedPoint(frac_bits)

    def target(role: str) -> None:
        party = Party(role, links[role], fp, gemm_device=server_gemm_device if role == SERVER else "cpu")
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
