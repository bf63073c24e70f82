"""Secret rows opened once under a kept mask: products with a growing secret tensor (a KV cache) that
open only its new rows.

A decode step multiplies the new query by every cached key, and the attention weights by every
cached value. A fresh Beaver triple per product opens the whole cache again each step (at GPT-2
base width, 36 cached positions cost about 0.9 MB per layer and step). Here each row y of the cache
gets a mask b once, when it is appended; f = y - b is opened the first time the row is used (in the
same round as the product's other opening, so no round is added) and kept by both computing parties;
each party keeps its share of b, and the dealer keeps b itself. A product x @ Y then needs a fresh
random a for x only, and c = a @ B from the dealer:

    x Y = e (B + F) + a F + c,   e = x - a opened,   F = Y - B public,

each party adding its share of c, e @ its share of B and its share of a @ F (the client adds e @ F).

Security: every row of Y is opened once, under its own uniform mask b, never reused with another
value (the rows of a cache do not change); e is under a fresh a each time. This is the one-time
masking of ``ServerWeight`` (weights masked once per session) applied to a secret that grows.
Cost: appending rows is free (b comes from the party-dealer streams); a product costs the opening of
x and of the rows not yet opened (8 bytes per element per party, one round), and c from the dealer
(offline). Memory: each computing party keeps F and its share of B beside its share of Y; the dealer
keeps B, as large as the cache.

Views: the product reads Y through the view ops the model applies to it (a transpose for K^T, an
expand and reshape for grouped-query heads); ``HeldView`` replays them on B and F.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from privformers.mpc.material import recv_flat, send_flat, take
from privformers.mpc.party import CLIENT, DEALER, SERVER, meta_like, placeholder
from privformers.mpc.protocols.open import open_many
from privformers.mpc.ringmath import ring_matmul
from privformers.mpc.shares import AShare

ViewOp = tuple[Callable[..., torch.Tensor], tuple, dict]


class HeldRows:
    """A secret tensor's rows along ``dim``, each masked once (see the module docstring).

    ``scale``: the extra fractional bits the rows carry (an untruncated projection: f; its products
    then come out at 2f + scale, one truncation later). All rows share it."""

    def __init__(self, party: Any, dim: int, scale: int = 0) -> None:
        self.party, self.dim, self.scale = party, dim, scale
        self.b: torch.Tensor | None = None        # this party's share of B (the dealer: B)
        self.f: torch.Tensor | None = None        # rows opened so far (client and server, online)
        self.waiting: torch.Tensor | None = None  # this party's share of Y - B for rows not yet opened

    @property
    def shape(self) -> torch.Size | None:
        return None if self.b is None else self.b.shape

    def append(self, y: AShare) -> None:
        """Add rows (this party's share of them, at ``scale``): their mask comes from the dealer streams."""
        p = self.party
        shape = tuple(y.shape)

        def produce() -> tuple:
            if p.role == DEALER:
                return (p.prg[CLIENT].ring(shape) + p.prg[SERVER].ring(shape),)
            return (p.prg[DEALER].ring(shape),)

        (b_new,) = take(p, produce)
        self.b = b_new if self.b is None else torch.cat([self.b, b_new], self.dim)
        if p.role == DEALER:
            return
        masked = y.data - b_new if not p.symbolic else meta_like(y.data)
        self.waiting = masked if self.waiting is None else torch.cat([self.waiting, masked], self.dim)


class HeldView:
    """``base`` seen through view ops (func, args, kwargs) applied in order, as the model applies them."""

    def __init__(self, base: HeldRows, ops: tuple[ViewOp, ...] = ()) -> None:
        self.base, self.ops = base, ops

    def then(self, func: Callable[..., torch.Tensor], args: tuple, kwargs: dict) -> HeldView:
        return HeldView(self.base, (*self.ops, (func, args, kwargs)))

    def apply(self, t: torch.Tensor) -> torch.Tensor:
        with torch._C.DisableTorchFunctionSubclass():
            for func, args, kwargs in self.ops:
                t = func(t, *args, **kwargs)
        return t

    @property
    def shape(self) -> torch.Size:
        return self.apply(torch.empty(self.base.shape, device="meta")).shape


def _open_waiting_with(x: AShare, a: AShare, base: HeldRows) -> torch.Tensor:
    """Open e = x - a, and the base's waiting rows in the same round; returns e."""
    if base.waiting is None:
        return open_many([x - a])[0]
    e, opened = open_many([x - a, AShare(x.party, base.waiting)])
    if not x.party.symbolic:
        base.f = opened if base.f is None else torch.cat([base.f, opened], base.dim)
    base.waiting = None
    return e


def matmul_held(x: AShare, y: HeldView) -> AShare:
    """x @ Y for Y held rows seen through y's view ops, untruncated (scale: x's + f + Y's ``scale``).
    One round: x - a and Y's rows not yet opened."""
    p = x.party
    base = y.base
    out_shape = torch.matmul(torch.empty(x.shape, device="meta"), torch.empty(y.shape, device="meta")).shape

    def produce() -> tuple:
        if p.role == DEALER:
            a = p.prg[CLIENT].ring(tuple(x.shape)) + p.prg[SERVER].ring(tuple(x.shape))
            c = ring_matmul(a, y.apply(base.b))
            c_client = p.prg[CLIENT].ring(tuple(out_shape))
            send_flat(p, SERVER, [c - c_client])
            return (meta_like(a), meta_like(c))
        a = p.prg[DEALER].ring(tuple(x.shape))
        c = p.prg[DEALER].ring(tuple(out_shape)) if p.role == CLIENT else recv_flat(p, DEALER, [out_shape])[0]
        return (a, c)

    a, c = take(p, produce)
    if p.role == DEALER:
        return AShare(p, placeholder(out_shape))
    e = _open_waiting_with(x, AShare(p, a), base)
    if p.symbolic:
        return AShare(p, placeholder(out_shape))
    f = y.apply(base.f)
    b = y.apply(base.b)
    mine = b + f if p.role == CLIENT else b
    return AShare(p, c + ring_matmul(e, mine) + ring_matmul(a, f))
