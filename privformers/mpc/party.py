"""A party of a session: its role, links to the others, shared PRG streams, meter and mode.

There are no globals: every protocol receives the Party (through the shares it computes on).
Client and server are the computing parties (index 0 and 1); the dealer supplies correlated
randomness and runs the same program on shape-only ("meta") tensors.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from privformers.mpc.meter import Meter
from privformers.mpc.prg import AesCtrPrg, new_seed
from privformers.mpc.ring import FixedPoint
from privformers.mpc.ringmath import gemm_device as gemm_device_for
from privformers.mpc.transport.base import Channel, TransportError

CLIENT, SERVER, DEALER = "client", "server", "dealer"
ROLES = (CLIENT, SERVER, DEALER)
MODES = ("setup", "offline", "online")


class Party:
    """One of client, server, dealer, with its links and PRG streams (set up by ``handshake``)."""

    def __init__(self, role: str, links: dict[str, Channel], fp: FixedPoint | None = None,
                 meter: Meter | None = None, gemm_threads: int = 1, gemm_device: str = "cpu") -> None:
        """gemm_threads, gemm_device: torch threads, and the device (cpu, cuda, cuda:N), for the server's
        products with its plaintext weights; the other roles have none and take only the defaults."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if gemm_threads < 1:
            raise ValueError(f"gemm_threads must be at least 1, got {gemm_threads}")
        if role != SERVER and str(gemm_device) != "cpu":
            raise ValueError(f"gemm_device is the server's option; the {role} has no plaintext weights")
        self.role = role
        self.gemm_threads = gemm_threads
        self.gemm_device = gemm_device_for(str(gemm_device))
        self._links = links
        self.fp = fp or FixedPoint()
        self._meter = meter or Meter()
        self.local_prg = AesCtrPrg.from_os()
        self._prg: dict[str, AesCtrPrg] = {}
        self.store: deque = deque()
        self._mode = "setup"
        self._meter.phase = "setup"
        self._counter = 0
        self.material_stream: dict[str, int] | None = None  # peak/largest/total bytes of streamed material
        self.ended_early = False   # the program stopped before using all its material (``execute`` drops the rest)
        self._view = threading.local()  # a pass running in this thread (streamed material), see thread_pass

    # -- per-thread pass (offline and online passes running at once) ------------
    @property
    def mode(self) -> str:
        return getattr(self._view, "mode", self._mode)

    @property
    def meter(self) -> Meter:
        return getattr(self._view, "meter", self._meter)

    @property
    def links(self) -> dict[str, Channel]:
        return getattr(self._view, "links", self._links)

    @property
    def prg(self) -> dict[str, AesCtrPrg]:
        return getattr(self._view, "prg", self._prg)

    @contextmanager
    def thread_pass(self, mode: str, meter: Meter, peers: tuple[str, ...]) -> Iterator[None]:
        """Run a pass in this thread with its own mode and meter, talking only to ``peers``.

        Used when the offline pass streams material to a concurrent online pass: the offline
        thread may use only the dealer's link and PRG stream, the online thread only the other
        computing party's, so neither can reorder the other's messages or random draws."""
        if mode not in MODES:
            raise ValueError(mode)
        view = self._view
        view.mode, view.meter = mode, meter
        view.links = _Restricted(self._links, peers, f"the {mode} pass ({self.role}, streamed material)")
        view.prg = _Restricted(self._prg, peers, f"the {mode} pass ({self.role}, streamed material)")
        try:
            yield
        finally:
            for name in ("mode", "meter", "links", "prg"):
                delattr(view, name)

    # -- identity -------------------------------------------------------------
    @property
    def is_dealer(self) -> bool:
        return self.role == DEALER

    @property
    def index(self) -> int:
        """0 for the client, 1 for the server (the dealer has no share index)."""
        return {CLIENT: 0, SERVER: 1}[self.role]

    @property
    def peer(self) -> str:
        """The other computing party."""
        return SERVER if self.role == CLIENT else CLIENT

    @property
    def symbolic(self) -> bool:
        """True when shares are shape-only: always on the dealer, and in every offline pass."""
        return self.is_dealer or self.mode == "offline"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self._mode = mode
        self._meter.phase = mode

    def next_id(self) -> int:
        """A per-party counter that advances identically on every party (SPMD programs)."""
        self._counter += 1
        return self._counter

    # -- messaging ------------------------------------------------------------
    def send(self, to: str, msg: torch.Tensor | bytes) -> None:
        """Send to a party; the meter charges the bytes to the current phase and op class."""
        self.meter.record_send(self._link(to).send(msg))

    def recv(self, frm: str) -> torch.Tensor | bytes:
        return self._link(frm).recv()

    def recv_tensor(self, frm: str) -> torch.Tensor:
        msg = self.recv(frm)
        if not isinstance(msg, torch.Tensor):
            raise TransportError(f"expected a tensor from {frm}, got {type(msg).__name__}")
        return msg

    def exchange(self, msg: torch.Tensor) -> torch.Tensor:
        """Send msg to the other computing party and receive its counterpart: one round."""
        self.send(self.peer, msg)
        self.meter.add_round()
        other = self.recv_tensor(self.peer)
        if other.shape != msg.shape:
            raise TransportError(f"{self.peer} sent shape {tuple(other.shape)}, expected {tuple(msg.shape)}")
        return other

    def _link(self, role: str) -> Channel:
        try:
            return self.links[role]  # a streamed pass's view raises RuntimeError for a link it may not use
        except KeyError:
            raise TransportError(f"{self.role} has no link to {role}") from None

    # -- setup ----------------------------------------------------------------
    def handshake(self) -> None:
        """Agree pairwise PRG seeds: dealer->client, dealer->server, client->server."""
        if self.is_dealer:
            for role in (CLIENT, SERVER):
                seed = new_seed()
                self.send(role, seed)
                self.prg[role] = AesCtrPrg(seed)
            return
        self.prg[DEALER] = AesCtrPrg(self._recv_seed(DEALER))
        if self.role == CLIENT:
            seed = new_seed()
            self.send(SERVER, seed)
        else:
            seed = self._recv_seed(CLIENT)
        self.prg[self.peer] = AesCtrPrg(seed)

    def _recv_seed(self, frm: str) -> bytes:
        msg = self.recv(frm)
        if not isinstance(msg, bytes) or len(msg) != 32:
            raise TransportError(f"bad seed message from {frm}")
        return msg

    def close(self) -> None:
        for link in self._links.values():
            link.close()


class _Restricted(dict):
    """A view of a party's links or PRG streams limited to some peers; others raise a clear error."""

    def __init__(self, full: dict, peers: tuple[str, ...], who: str) -> None:
        super().__init__({k: v for k, v in full.items() if k in peers})
        self._full, self._who = full, who

    def __missing__(self, key: str):
        if key in self._full:
            raise RuntimeError(f"{self._who} may not use the {key}'s link or random stream: this program "
                               "cannot stream its material (run it with the material precomputed)")
        raise KeyError(key)


def placeholder(shape: tuple[int, ...] | torch.Size, dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """A stand-in of the right shape for shape-only passes (dealer, offline): zeros on the CPU.

    Not meta tensors: torch's meta kernels cost about 1.5 ms per op here against tens of
    microseconds for small CPU ops, and the offline pass runs every op of the program.
    """
    return torch.zeros(shape, dtype=dtype)


def meta_like(t: torch.Tensor) -> torch.Tensor:
    """A shape-only stand-in for t (see ``placeholder``)."""
    return placeholder(t.shape, t.dtype)
