"""Correlated randomness from the dealer, made in the offline pass and consumed online.

Every protocol asks for its material through ``take``: in the offline pass the material is
made (the dealer computes it; the parties draw their PRG parts and receive corrections) and
queued; in the online pass it is popped in the same order. Randomness shared with the dealer
comes from the pairwise AES-CTR streams, so the dealer only sends correction terms.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import torch

from privformers.mpc.party import CLIENT, DEALER, SERVER, Party, meta_like
from privformers.mpc.shares import AShare
from privformers.mpc.transport.base import TransportError

Shape = tuple[int, ...] | torch.Size


def take(party: Party, produce: Callable[[], tuple]) -> tuple:
    """Material for one protocol call: made and queued offline, popped online."""
    if party.is_dealer:
        return produce()
    if party.mode == "offline":
        item = produce()
        party.store.append(item)
        return tuple(meta_like(t) if isinstance(t, torch.Tensor) else t for t in item)
    if party.mode != "online":
        raise RuntimeError("correlated material is made in the offline pass and used in the online pass")
    if not party.store and not isinstance(party.store, MaterialQueue):  # a queue waits for its producer
        raise RuntimeError("no correlated material left: the online program differs from the offline one")
    return party.store.popleft()


def item_nbytes(item: Any) -> int:
    """Memory held by one item of material: its tensors, arrays and keys (objects with ``nbytes``)."""
    if isinstance(item, torch.Tensor):
        return item.numel() * item.element_size()
    if isinstance(item, tuple | list):
        return sum(item_nbytes(x) for x in item)
    return int(getattr(item, "nbytes", 0))  # numpy arrays, DCF keys


class MaterialQueue:
    """Material streamed from a concurrent offline pass to the online pass, at most ``budget`` bytes
    ahead: the producer waits while the queue is full, the consumer while it is empty, and a
    failure on either side reaches the other instead of leaving it waiting."""

    def __init__(self, budget: int) -> None:
        if budget <= 0:
            raise ValueError(f"material budget must be > 0 bytes, got {budget}")
        self.budget = budget
        self.peak = 0      # most bytes held at once
        self.largest = 0   # the largest single item (admitted alone even when over the budget)
        self.total = 0     # bytes of all items
        self._items: deque = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._finished = False
        self._error: BaseException | None = None
        self._cancelled = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def error(self) -> BaseException | None:
        """Why the offline pass failed, if it did."""
        return self._error

    def append(self, item: tuple) -> None:
        """Queue an item (offline pass); waits while the queue holds ``budget`` bytes."""
        size = item_nbytes(item)
        with self._cond:
            while self._items and self._bytes + size > self.budget and not self._cancelled:
                self._cond.wait()
            if self._cancelled:
                raise RuntimeError("the online pass stopped: offline pass cancelled")
            self._items.append((item, size))
            self._bytes += size
            self.peak = max(self.peak, self._bytes)
            self.largest = max(self.largest, size)
            self.total += size
            self._cond.notify_all()

    def popleft(self) -> tuple:
        """The next item (online pass); waits for the offline pass to make it."""
        with self._cond:
            while not self._items:
                if self._error is not None:
                    raise RuntimeError(f"the offline pass failed: {self._error}") from self._error
                if self._finished:
                    raise RuntimeError("no correlated material left: the online program differs from the offline one")
                self._cond.wait()
            item, size = self._items.popleft()
            self._bytes -= size
            self._cond.notify_all()
            return item

    def finish(self, error: BaseException | None = None) -> None:
        """The offline pass ended (with ``error`` if it failed)."""
        with self._cond:
            self._finished, self._error = True, error
            self._cond.notify_all()

    def cancel(self) -> None:
        """The online pass ended early: release a waiting producer."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()


def send_flat(party: Party, to: str, tensors: Sequence[torch.Tensor]) -> None:
    """Send several int64 tensors as one message."""
    party.send(to, torch.cat([t.reshape(-1) for t in tensors]) if tensors else torch.zeros(0, dtype=torch.int64))


def recv_flat(party: Party, frm: str, shapes: Sequence[Shape]) -> list[torch.Tensor]:
    """Receive one message and cut it into tensors of the given shapes."""
    flat = party.recv_tensor(frm)
    sizes = [int(torch.Size(s).numel()) for s in shapes]
    if flat.numel() != sum(sizes):
        raise TransportError(f"{frm} sent {flat.numel()} values, expected {sum(sizes)}")
    return [p.reshape(s) for p, s in zip(flat.split(sizes), shapes)]


def correlated(party: Party, rand_shapes: Sequence[Shape],
               derive: Callable[[list[torch.Tensor]], list[torch.Tensor]]) -> tuple[list[AShare], list[AShare]]:
    """Shares of random ring tensors R and of derived values derive(R), made by the dealer.

    Each party's share of R and the client's share of derive(R) come from the PRG streams it
    shares with the dealer; only the server's shares of derive(R) travel (one message).
    Returns (shares of R, shares of derive(R)).
    """

    def produce() -> tuple:
        if party.is_dealer:
            pc, ps = party.prg[CLIENT], party.prg[SERVER]
            rc = [pc.ring(s) for s in rand_shapes]
            rs = [ps.ring(s) for s in rand_shapes]
            derived = derive([a + b for a, b in zip(rc, rs)])
            dc = [pc.ring(d.shape) for d in derived]
            send_flat(party, SERVER, [d - c for d, c in zip(derived, dc)])
            return tuple(meta_like(t) for t in rc + derived)
        prg = party.prg[DEALER]
        r = [prg.ring(s) for s in rand_shapes]
        shapes = [d.shape for d in derive([torch.zeros(s, dtype=torch.int64) for s in rand_shapes])]
        if party.role == CLIENT:
            d = [prg.ring(s) for s in shapes]
        else:
            d = recv_flat(party, DEALER, shapes)
        return tuple(r + d)

    item = take(party, produce)
    shares = [AShare(party, t) for t in item]
    k = len(rand_shapes)
    return shares[:k], shares[k:]
