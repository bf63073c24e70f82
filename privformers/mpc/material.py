"""Correlated randomness from the dealer, made in the offline pass and consumed online.

Every protocol asks for its material through ``take``: in the offline pass the material is
made (the dealer computes it; the parties draw their PRG parts and receive corrections) and
queued; in the online pass it is popped in the same order. Randomness shared with the dealer
comes from the pairwise AES-CTR streams, so the dealer only sends correction terms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    if not party.store:
        raise RuntimeError("no correlated material left: the online program differs from the offline one")
    return party.store.popleft()


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
