"""Oblivious shuffle of secret rows, with a dealer: neither computing party learns the permutation.

Each row of x (rows, n) is permuted by pi = pi_c then pi_s (y[j] = x[pi_c[pi_s[j]]]): pi_c is drawn from the
client-dealer stream (the client and the dealer know it), pi_s from the server-dealer stream (the server and
the dealer know it), so each computing party sees a uniformly random permutation it cannot tell from any other.

Pass 1 (pi_c): the server sends z = x_s - a, with a from its stream with the dealer; the client's new share
is pi_c(x_c + z) + D with D = pi_c(a) - b sent by the dealer offline, and the server's is b (from its stream):
the sum is pi_c(x_c + x_s - a) + pi_c(a) - b + b = pi_c(x). Pass 2 (pi_s) is the same with the roles swapped.
What each sees: the client receives z (masked by a, which it does not know) and D (masked by b); the server
receives the client's masked share and its own D'. All are uniform whatever x is. The dealer knows pi (it made
both halves) but sees no share of x: under non-collusion that is harmless.

The dealer also shares idx = pi(0..n-1), the original position of every shuffled element, so a result found
at a public shuffled position can be carried back to its original index (a token id) without anything online.
Cost: 2 rounds (one message each way, one after the other), 8 bytes per element from each party.
Offline: 8 bytes per element to the client (D), 16 to the server (D' and its share of idx).
"""

from __future__ import annotations

import torch

from privformers.mpc.material import recv_flat, send_flat, take
from privformers.mpc.party import CLIENT, DEALER, SERVER, placeholder
from privformers.mpc.prg import AesCtrPrg
from privformers.mpc.shares import AShare
from privformers.mpc.transport.base import TransportError


def random_permutations(prg: AesCtrPrg, rows: int, n: int) -> torch.Tensor:
    """One uniformly random permutation of 0..n-1 per row (rows, n), from a PRG stream: the order of
    64-bit uniform keys (a repeated key, probability below n^2 / 2^65, only ties the order by position)."""
    return torch.argsort(prg.ring((rows, n)), dim=1, stable=True)


def shuffle(x: AShare) -> tuple[AShare, AShare]:
    """(shares of each row of x permuted by a permutation no computing party knows, shares of the original
    position of every shuffled element). x is (rows, n); rows are permuted independently."""
    p = x.party
    if x.dim() != 2:
        raise ValueError(f"shuffle takes (rows, n) shares, got shape {tuple(x.shape)}")
    rows, n = x.shape
    shape = (rows, n)

    def produce() -> tuple:
        if p.role == DEALER:
            pc, ps = p.prg[CLIENT], p.prg[SERVER]
            perm_c, a2, b2, idx_c = random_permutations(pc, rows, n), pc.ring(shape), pc.ring(shape), pc.ring(shape)
            a, b, perm_s = ps.ring(shape), ps.ring(shape), random_permutations(ps, rows, n)
            p.send(CLIENT, a.gather(1, perm_c) - b)
            idx = perm_c.gather(1, perm_s)
            send_flat(p, SERVER, [a2.gather(1, perm_s) - b2, idx - idx_c])
            return tuple(placeholder(shape) for _ in range(5))
        prg = p.prg[DEALER]
        if p.role == CLIENT:
            perm_c, a2, b2, idx_c = random_permutations(prg, rows, n), prg.ring(shape), prg.ring(shape), prg.ring(shape)
            return perm_c, a2, b2, idx_c, p.recv_tensor(DEALER).reshape(shape)
        a, b, perm_s = prg.ring(shape), prg.ring(shape), random_permutations(prg, rows, n)
        delta2, idx_s = recv_flat(p, DEALER, [shape, shape])
        return a, b, perm_s, idx_s, delta2

    item = take(p, produce)
    if p.symbolic:
        return AShare(p, placeholder(shape)), AShare(p, placeholder(shape))
    p.meter.add_round()   # pass 1: server -> client (each one-way pass counts a round for both, as in open_to)
    if p.role == CLIENT:
        perm_c, a2, b2, idx_c, delta1 = item
        z = p.recv_tensor(SERVER)
        if tuple(z.shape) != shape:
            raise TransportError(f"server sent shape {tuple(z.shape)} in the shuffle, expected {shape}")
        y_c = (x.data + z).gather(1, perm_c) + delta1
        p.meter.add_round()   # pass 2: client -> server
        p.send(SERVER, (y_c - a2).contiguous())
        return AShare(p, b2), AShare(p, idx_c)
    a, b, perm_s, idx_s, delta2 = item
    p.send(CLIENT, (x.data - a).contiguous())
    p.meter.add_round()
    z2 = p.recv_tensor(CLIENT)
    if tuple(z2.shape) != shape:
        raise TransportError(f"client sent shape {tuple(z2.shape)} in the shuffle, expected {shape}")
    return AShare(p, (b + z2).gather(1, perm_s) + delta2), AShare(p, idx_s)
