"""One party as its own process: connect over TCP, run a named program, report JSON.

The report holds the party's formatted result, its meter summary, and "what it saw": the
first bytes of every message it received, to show that shares and masks look random.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable

import torch

from privformers.mpc.party import SERVER, Party
from privformers.mpc.programs import get_program
from privformers.mpc.ring import FixedPoint
from privformers.mpc.ringmath import gemm_device as gemm_device_for
from privformers.mpc.session import execute
from privformers.mpc.transport.base import Channel, Message, PeerDisconnected, TransportError
from privformers.mpc.transport.connect import Addr, connect_party
from privformers.mpc.transport.tcp import MAX_MESSAGE, TcpChannel
from privformers.mpc.transport.tls import TlsConfig
from privformers.mpc.watchdog import LINGER_S, Watchdog


class RecordingChannel:
    """A Channel that notes the start of each received message (as hex) before passing it on."""

    def __init__(self, inner: Channel, log: list[dict], limit: int = 12, head: int = 16) -> None:
        self.peer, self._inner, self._log, self._limit, self._head = inner.peer, inner, log, limit, head
        self._count = 0

    def send(self, msg: Message) -> int:
        return self._inner.send(msg)

    def recv(self) -> Message:
        msg = self._inner.recv()
        self._count += 1
        if self._count <= self._limit:
            if isinstance(msg, torch.Tensor):
                raw = msg.contiguous().reshape(-1)[: self._head].numpy().tobytes()[: self._head]
                kind = f"tensor {str(msg.dtype).removeprefix('torch.')}{list(msg.shape)}"
            else:
                raw, kind = msg[: self._head], f"bytes[{len(msg)}]"
            self._log.append({"from": self.peer, "message": kind, "first_bytes": raw.hex()})
        return msg

    def close(self) -> None:
        self._inner.close()


TRANSPORT = {True: "tls1.3", False: "tcp (insecure)"}


def stop_reason(role: str, exc: BaseException) -> str:
    """What a failing party tells its peers: transport errors in full (they hold no data), else the type."""
    detail = str(exc) if isinstance(exc, TransportError) else type(exc).__name__
    return f"the {role} stopped ({detail})"


def abort_all(links: dict[str, TcpChannel], reason: str) -> None:
    """End every link, telling each peer why."""
    for link in links.values():
        link.abort(reason, flush_timeout=0.5)


PROFILE_ENV = "PRIVFORMERS_PROFILE_DIR"


def _execute_profiled(party: Party, built, role: str):
    """execute() under cProfile, stats written to $PRIVFORMERS_PROFILE_DIR/<role>.prof (developers).

    With PRIVFORMERS_PROFILE_PHASE=online only the online pass is profiled (the dealer: nothing)."""
    import cProfile

    prof = cProfile.Profile()
    online_only = os.environ.get("PRIVFORMERS_PROFILE_PHASE") == "online"
    try:
        if online_only:
            return execute(party, built, on_online=(prof.enable, prof.disable))
        return prof.runcall(execute, party, built)
    finally:
        prof.dump_stats(os.path.join(os.environ[PROFILE_ENV], f"{role}.prof"))


def _announce_online(role: str) -> Callable[[], None]:
    """A callback that says, on stderr, that the offline pass is over and how long setup and offline took."""
    start = time.perf_counter()

    def announce() -> None:
        print(f"[{role}] setup and offline pass (the dealer's correlated randomness): "
              f"{time.perf_counter() - start:.1f} s; online pass starts", file=sys.stderr, flush=True)

    return announce


def run_party(role: str, program: str, args: dict, session: bytes, addrs: dict[str, Addr],
              frac_bits: int = 16, io_timeout: float = 60.0, connect_timeout: float = 30.0, *,
              tls: TlsConfig | None, exit_on_lost_peer: bool = False, gemm_threads: int = 1,
              gemm_device: str = "cpu", max_message: int = MAX_MESSAGE) -> dict:
    """Run one party of a session to the end; returns its JSON report (raises TransportError on failure).

    tls: this party's certificate, key and CA; None runs over plain TCP (--insecure-transport).
    With ``exit_on_lost_peer`` (party processes) a watchdog ends the process with a clear error as
    soon as a peer's connection drops, instead of when this party next talks to that peer.
    gemm_threads, gemm_device: the server's threads and device for its plaintext-weight products (``PlainMatrix``).
    max_message: the largest payload a peer may announce in one message (``TcpChannel``)."""
    torch.set_num_threads(1)   # three parties share few cores: OpenMP spinning makes small ops crawl
    if role == SERVER:
        gemm_device_for(gemm_device)   # a missing GPU fails here, before any peer is kept waiting
    spec = get_program(program)
    built = spec.build(args)
    cpu0 = time.process_time()
    links = connect_party(role, session, addrs, connect_timeout, io_timeout, tls=tls, max_message=max_message)
    print(f"[{role}] connected to {', '.join(sorted(links))} ({TRANSPORT[tls is not None]})", file=sys.stderr,
          flush=True)
    saw: list[dict] = []
    recorded: dict[str, Channel] = {peer: RecordingChannel(link, saw) for peer, link in links.items()}
    party = Party(role, recorded, FixedPoint(frac_bits), gemm_threads=gemm_threads, gemm_device=gemm_device)
    watchdog = Watchdog(role, links).start() if exit_on_lost_peer else None
    try:
        party.handshake()
        if os.environ.get(PROFILE_ENV):
            result = _execute_profiled(party, built, role)
        else:
            result = execute(party, built, on_online=(_announce_online(role), lambda: None))
    except BaseException as exc:
        if watchdog:
            watchdog.stop()
            if isinstance(exc, PeerDisconnected):
                time.sleep(LINGER_S)  # let the third party notice the lost peer first-hand, not us leaving
        abort_all(links, stop_reason(role, exc))
        raise
    if watchdog:
        watchdog.stop()
    party.close()
    return {"role": role, "program": program, "transport": TRANSPORT[tls is not None],
            **spec.format_result(role, result), "meter": party.meter.summary(), "saw": saw,
            "cpu_seconds": round(time.process_time() - cpu0, 3), "material_stream": party.material_stream,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
