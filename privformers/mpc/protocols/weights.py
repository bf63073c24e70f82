"""Products with a matrix the server holds in plaintext (model weights), masked once per session.

Setup, once: the server sends the client F = W - B, where B comes from a per-weight seed drawn from the
stream the server shares with the dealer (the client never learns B; the dealer never sees F). The dealer
keeps B (as limbs, while its process's limb budget lasts) or only the seed, regenerating B in every
product: a 7B model's masks then cost the dealer nothing to hold, and its offline time instead.
Each product x @ W with x = x_c + x_s shared, and a dealer mask A known to client and dealer:
  offline  dealer -> client: A@B - C_s  (C_s from the dealer-server stream);
           client keeps z_c = A@F + A@B - C_s = A@W - C_s
  online   client -> server: x_c - A            (activation-sized, one flight)
           server: z_s = (x_c - A + x_s) @ W + C_s
so z_c + z_s = x @ W. Online cost: 8 bytes per input element from the client, 1 round, and one
plaintext-weight product on the server; the weight matrix never travels again.

Several products with one input (a layer's query, key and value projections; a gated MLP's gate and up
projections) share its mask through a ``SharedInput``: the client sends x_c - A once and the server
keeps x - A, so they cost one message and one round together. Reusing A is safe: the server sees
x_c - A once, and each of the client's A@B_w - C_s,w is masked by its own C_s,w.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from privformers.mpc.material import take
from privformers.mpc.party import CLIENT, DEALER, SERVER, Party, meta_like, placeholder
from privformers.mpc.prg import SEED_BYTES, AesCtrPrg
from privformers.mpc.protocols.lift import LIFT_RANGE, LOW_BITS, MASK32, lift32, to_int32
from privformers.mpc.ringmath import (
    CHUNK_ENTRIES,
    PlainMatrix,
    RingMatrix,
    _release,
    _reserve,
    ring_matmul,
    spill_empty,
)
from privformers.mpc.ringmath import _apply as apply_product
from privformers.mpc.shares import AShare


class _RingOperand:
    """The client's F or the dealer's B; a 2-D one is kept only as limbs (shared by both orientations) while
    the process's limb budget lasts, else as int64 (``RingMatrix``); the dealer's B may instead be
    regenerated from its seed for every product (``seeded``), so the dealer holds 32 bytes per weight."""

    def __init__(self, m: torch.Tensor | None, seeded: RingMatrix | None = None) -> None:
        self.m: torch.Tensor | None = m
        self._ring: RingMatrix | None = seeded
        if m is not None and m.dim() == 2:
            self._ring = RingMatrix(m)
            self.m = None   # the ring matrix holds it (as limbs, as int64, or in a weights file)

    @classmethod
    def from_seed(cls, seed: bytes, shape: tuple[int, ...]) -> _RingOperand:
        """B = AesCtrPrg(seed).ring(shape): kept as limbs if the budget allows, else regenerated per product."""
        if len(shape) == 2 and _reserve(16 * math.prod(shape)):
            _release(16 * math.prod(shape))   # RingMatrix reserves it again for itself
            return cls(AesCtrPrg(seed).ring(shape))
        if len(shape) != 2:
            return cls(AesCtrPrg(seed).ring(shape))
        step = max(1, CHUNK_ENTRIES // max(1, shape[-1]))

        def rows() -> Iterator[torch.Tensor]:
            prg = AesCtrPrg(seed)
            for start in range(0, shape[0], step):
                yield prg.ring((min(step, shape[0] - start), shape[1]))

        return cls(None, RingMatrix(None, rows=rows, shape=shape))

    def nbytes(self) -> int:
        """Bytes held (the int64 tensor, or the limbs or int64 of a 2-D one; none when regenerated)."""
        if self._ring is not None:
            return self._ring.nbytes()
        return 0 if self.m is None else self.m.numel() * self.m.element_size()

    def product(self, x: torch.Tensor, op: str, width: int = 64) -> torch.Tensor:
        """x @ M, x @ M.T or x * M mod 2^64; width < 64: x's entries lie in [0, 2^width) (fewer limbs)."""
        if self._ring is not None and op != "mul":
            return self._ring.rmatmul(x, transpose=op == "matmul_t", width=width)
        m = self.m if self.m is not None else self._ring.value()
        return apply_product(x, m, op) if op == "mul" else ring_matmul(
            x, m.transpose(-1, -2) if op == "matmul_t" else m)


def product_shape(x: tuple[int, ...], w: tuple[int, ...], op: str) -> tuple[int, ...]:
    """Shape of x @ W, x @ W.T or x * W (torch broadcasting), without running the product."""
    if op == "mul":
        return tuple(torch.broadcast_shapes(x, w))
    if len(w) < 2 or len(x) < 1:
        raise ValueError(f"product {op!r} of shapes {x} and {w} is not supported")
    rows, cols = (w[-1], w[-2]) if op == "matmul_t" else (w[-2], w[-1])
    if op not in ("matmul", "matmul_t"):
        raise ValueError(f"unknown product {op!r}")
    if x[-1] != rows:
        raise ValueError(f"product {op!r}: shapes {x} and {w} do not match")
    if len(x) == 1:
        return (*w[:-2], cols)
    batch = tuple(torch.broadcast_shapes(x[:-2], w[:-2]))
    return (*batch, x[-2], cols)


def _row_slices(shape: tuple[int, ...]) -> list[slice | tuple]:
    """How a weight travels: blocks of ``CHUNK_ENTRIES`` entries' worth of rows (all of a vector or scalar), so
    neither side holds more than one block of temporaries; both derive the blocks from the public shape."""
    if len(shape) < 2:
        return [(...,)]
    step = max(1, CHUNK_ENTRIES // max(1, math.prod(shape[1:])))
    return [slice(start, start + step) for start in range(0, shape[0], step)] or [slice(0, 0)]


class SharedInput:
    """One input's mask for several weight products (see the module docstring): A on the client and the
    dealer, x - A on the server once it has arrived. One per input tensor and pass, on every party."""

    def __init__(self) -> None:
        self.a: torch.Tensor | None = None        # the mask (client, dealer; a placeholder offline)
        self.opened: torch.Tensor | None = None   # x - A (server, online)
        self.sent = False                         # the client has sent x_c - A (online)


class ServerWeight:
    """A server-owned plaintext tensor usable in many secure products at activation-sized cost."""

    def __init__(self, party: Party, value: torch.Tensor | None, shape: tuple[int, ...], name: str = "",
                 frac_bits: int | None = None) -> None:
        """Mask and send the weight (setup phase). value: the real tensor on the server, None elsewhere."""
        self.party, self.shape, self.name = party, tuple(shape), name
        self.frac_bits = party.fp.frac_bits if frac_bits is None else frac_bits
        self.plain: PlainMatrix | None = None
        self.masked: _RingOperand | None = None   # F = W - B, on the client
        self.mask: _RingOperand | None = None     # B, on the dealer
        if party.role == SERVER:
            if value is None or tuple(value.shape) != self.shape:
                raise ValueError(f"server weight {name!r}: expected a tensor of shape {self.shape}")
            prg = AesCtrPrg(party.prg[DEALER].random_bytes(SEED_BYTES))   # B, from a per-weight seed
            scaled = spill_empty(self.shape, torch.float64)               # W at frac_bits, as float64 for products
            for rows in _row_slices(self.shape):
                part = scaled[rows]
                part.copy_(value.detach()[rows]).mul_(float(1 << self.frac_bits)).round_()
                f = prg.ring(part.shape)
                party.send(CLIENT, f.neg_().add_(part.to(torch.int64)))   # F = W - B, a block of rows at a time
            self.plain = PlainMatrix(scaled, threads=party.gemm_threads, device=party.gemm_device)
        elif party.role == CLIENT:
            masked = torch.empty(self.shape, dtype=torch.int64)
            for rows in _row_slices(self.shape):
                block = party.recv_tensor(SERVER)
                if tuple(block.shape) != tuple(masked[rows].shape):
                    raise ValueError(f"weight {name!r}: server sent a block of shape {tuple(block.shape)}")
                masked[rows] = block
            self.masked = _RingOperand(masked)
        else:
            self.mask = _RingOperand.from_seed(party.prg[SERVER].random_bytes(SEED_BYTES), self.shape)

    def nbytes(self) -> int:
        """Bytes this party holds for the weight: the server's float64 matrix, the client's F, the dealer's B
        (0 when it is regenerated from its seed)."""
        if self.plain is not None:
            return self.plain.float.numel() * self.plain.float.element_size()
        operand = self.masked if self.masked is not None else self.mask
        return 0 if operand is None else operand.nbytes()

    def product(self, x: AShare, op: str = "matmul", shared: SharedInput | None = None) -> AShare:
        """Shares of x @ W ('matmul'), x @ W.T ('matmul_t') or x * W ('mul'), at scale f + frac_bits.

        shared: x's ``SharedInput`` when other products read the same x: the first sends, the others
        reuse its mask and the server's x - A (no message, no round)."""
        p = x.party
        out_meta = placeholder(product_shape(tuple(x.shape), self.shape, op))
        reuse = shared is not None and shared.a is not None

        def mask(prg_of: str) -> torch.Tensor:
            a = shared.a if reuse else p.prg[prg_of].ring(x.shape)
            if shared is not None:
                shared.a = a
            return a

        def produce() -> tuple:
            if p.role == DEALER:
                a = mask(CLIENT)
                c_s = p.prg[SERVER].ring(out_meta.shape)
                p.send(CLIENT, self.mask.product(a, op) - c_s)
                return (meta_like(a), meta_like(c_s))
            if p.role == CLIENT:
                a = mask(DEALER)
                d = p.recv_tensor(DEALER)
                return (a, self.masked.product(a, op) + d)
            self.plain.split(op)  # the weight's limb plan: made offline, not in the online product
            return (p.prg[DEALER].ring(out_meta.shape),)

        item = take(p, produce)
        if p.symbolic:
            return AShare(p, meta_like(out_meta))
        if p.role == CLIENT:
            a, z_c = item
            if shared is None or not shared.sent:
                p.meter.add_round()
                p.send(SERVER, x.data - a)
                if shared is not None:
                    shared.sent = True
            return AShare(p, z_c)
        (c_s,) = item
        if shared is None or shared.opened is None:
            p.meter.add_round()
            y = p.recv_tensor(CLIENT) + x.data
            if shared is not None:
                shared.opened = y
        else:
            y = shared.opened
        return AShare(p, self.plain.rmatmul(y, op) + c_s)

    def onehot_rows(self, ids: torch.Tensor | None, shape: tuple[int, ...]) -> AShare:
        """Shares of onehot(ids) @ W for the client's private row ids (rows of a table at scale frac_bits).

        shape: (*ids.shape, rows of W), public. The rows are small, so the product runs mod 2^32 and is
        then lifted (``lift32``): the client sends onehot(ids) - A mod 2^32 as 4-byte words (A uniform mod
        2^32, so the server sees uniform values; the client's material keeps -A as int32, and the one-hot
        only adds 1 at each id), the server's product needs one 32-bit limb instead of two, and one 4-byte
        round lifts the result. Needs |W| < 2^(30 - frac_bits) entrywise; ids is ignored except on the client."""
        p = self.party
        out_meta = placeholder(product_shape(tuple(shape), self.shape, "matmul"))

        def produce() -> tuple:
            if p.role == DEALER:
                a = p.prg[CLIENT].ring(shape) & MASK32
                c_s = p.prg[SERVER].ring(out_meta.shape)
                p.send(CLIENT, self.mask.product(a, "matmul", LOW_BITS) - c_s)
                return (meta_like(a), meta_like(c_s))
            if p.role == CLIENT:
                a = p.prg[DEALER].ring(shape) & MASK32
                z_c = self.masked.product(a, "matmul", LOW_BITS) + p.recv_tensor(DEALER)
                return (to_int32(-a), z_c)
            self._check_lookup_table()  # offline: a too-large table fails before any input is sent
            self.plain.split("matmul")
            return (p.prg[DEALER].ring(out_meta.shape),)

        item = take(p, produce)
        if p.symbolic:
            return lift32(AShare(p, meta_like(out_meta)))
        p.meter.add_round()
        if p.role == CLIENT:
            if ids is None or (*ids.shape, shape[-1]) != tuple(shape) or shape[-1] != self.shape[0]:
                raise ValueError(f"private ids: expected shape {tuple(shape[:-1])} for a table of {self.shape[0]} rows")
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.shape[0]):
                raise ValueError(f"private ids must lie in [0, {self.shape[0]})")
            neg_a, z_c = item
            u = neg_a.reshape(-1, shape[-1])      # this pass's own material: filled in place
            rows = torch.arange(u.shape[0])
            flat = ids.reshape(-1).to(torch.int64)
            u[rows, flat] = to_int32(u[rows, flat].to(torch.int64) + 1)   # the one-hot's 1s, mod 2^32
            p.send(SERVER, u.reshape(shape))
            return lift32(AShare(p, z_c))
        (c_s,) = item
        self._check_lookup_table()
        u = p.recv_tensor(CLIENT)
        if u.dtype != torch.int32 or tuple(u.shape) != tuple(shape):
            raise ValueError(f"client sent a {u.dtype} one-hot of shape {tuple(u.shape)}, "
                             f"expected int32 {tuple(shape)}")
        return lift32(AShare(p, self.plain.rmatmul_int32(u) + c_s))

    def _check_lookup_table(self) -> None:
        """Refuse a table too large for ``onehot_rows``' 32-bit lift (server side; cached after the first)."""
        if self.plain.max_abs() >= LIFT_RANGE:
            raise ValueError(f"table {self.name!r} has entries of 2^(30 - frac_bits) or more: "
                             "too large for a 32-bit lookup")
