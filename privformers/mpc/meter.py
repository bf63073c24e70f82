"""Cost metering: bytes and rounds per op class and phase, wall time per op class,
and an emulated network that turns counts into an estimated time.

Protocols emit events (a send of n bytes, a round) inside an op-class scope; the meter
only interprets them, the way a privacy accountant interprets privacy events.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

OP_CLASSES = ("embedding", "linear", "softmax", "activation", "norm", "lm_head", "sampling", "other")
PHASES = ("setup", "offline", "online")


@dataclass(frozen=True)
class NetworkModel:
    """A network of given bandwidth (bits/s) and round-trip time (s)."""

    name: str
    bandwidth_bps: float
    rtt_s: float

    def estimate(self, online_bytes: float, rounds: int) -> float:
        """Seconds to move the bytes one party sends and wait for the rounds (compute excluded)."""
        return rounds * self.rtt_s / 2 + 8 * online_bytes / self.bandwidth_bps


LAN = NetworkModel("lan", 1e9, 1e-3)
WAN = NetworkModel("wan", 100e6, 40e-3)


class Meter:
    """Counts what one party sends and how many communication rounds it takes part in."""

    def __init__(self) -> None:
        self.bytes_sent: dict[tuple[str, str], int] = defaultdict(int)
        self.rounds: dict[tuple[str, str], int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.phase = "online"
        self._stack: list[str] = ["other"]
        self._t0: float | None = None

    @property
    def op_class(self) -> str:
        return self._stack[-1]

    @contextmanager
    def scope(self, op_class: str) -> Iterator[None]:
        """Attribute everything inside to op_class (the innermost scope wins)."""
        if op_class not in OP_CLASSES:
            raise ValueError(f"unknown op class {op_class!r}; expected one of {OP_CLASSES}")
        self._switch(op_class)
        try:
            yield
        finally:
            self._switch(None)

    def _switch(self, push: str | None) -> None:
        now = time.perf_counter()
        if self._t0 is not None and self.phase == "online":
            self.seconds[self._stack[-1]] += now - self._t0
        if push is None:
            self._stack.pop()
        else:
            self._stack.append(push)
        self._t0 = now

    def record_send(self, nbytes: int) -> None:
        """Record nbytes sent by this party in the current phase and op class."""
        self.bytes_sent[(self.phase, self.op_class)] += nbytes

    def add_round(self, n: int = 1) -> None:
        """Record a communication round (one message flight) in the current phase and op class."""
        self.rounds[(self.phase, self.op_class)] += n

    def absorb(self, other: Meter) -> None:
        """Add another meter's counts (e.g. a concurrent offline pass's) to this one."""
        for key, n in other.bytes_sent.items():
            self.bytes_sent[key] += n
        for key, n in other.rounds.items():
            self.rounds[key] += n

    def start_clock(self) -> None:
        """Begin attributing wall time to op classes (online phase only)."""
        self._t0 = time.perf_counter()

    def stop_clock(self) -> None:
        """Flush the time of the current scope."""
        self._switch(self._stack[-1])
        self._stack.pop()
        self._t0 = None

    def total_bytes(self, phase: str) -> int:
        return sum(v for (p, _), v in self.bytes_sent.items() if p == phase)

    def total_rounds(self, phase: str) -> int:
        return sum(v for (p, _), v in self.rounds.items() if p == phase)

    def snapshot(self) -> dict:
        """Counters as a plain dict (for JSON output and for differences between two points)."""
        return {
            "bytes": {f"{p}/{c}": v for (p, c), v in self.bytes_sent.items()},
            "rounds": {f"{p}/{c}": v for (p, c), v in self.rounds.items()},
            "seconds": dict(self.seconds),
        }

    def summary(self) -> dict:
        """Totals per phase and a per-op-class breakdown of the online phase."""
        breakdown = {
            c: {
                "online_bytes": self.bytes_sent.get(("online", c), 0),
                "rounds": self.rounds.get(("online", c), 0),
                "seconds": round(self.seconds.get(c, 0.0), 6),
            }
            for c in OP_CLASSES
        }
        return {
            "setup_bytes": self.total_bytes("setup"),
            "offline_bytes": self.total_bytes("offline"),
            "online_bytes": self.total_bytes("online"),
            "online_rounds": self.total_rounds("online"),
            "breakdown": breakdown,
            "estimated_seconds": {
                net.name: net.estimate(self.total_bytes("online"), self.total_rounds("online"))
                for net in (LAN, WAN)
            },
        }


def diff(after: dict, before: dict) -> dict:
    """Counters accumulated between two snapshots."""
    out: dict = {}
    for key in ("bytes", "rounds", "seconds"):
        a, b = after[key], before[key]
        out[key] = {k: a[k] - b.get(k, 0) for k in a if a[k] - b.get(k, 0)}
    return out
