"""Uses of comparison bits: ReLU, selection, max and argmax along a dimension."""

from __future__ import annotations

import torch

from privformers.mpc.material import take
from privformers.mpc.party import CLIENT, DEALER, SERVER, meta_like, placeholder
from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.compare import ltz, open_low_bits
from privformers.mpc.shares import AShare, cat


def relu(x: AShare, bits: int = 64) -> AShare:
    """max(x, 0): one comparison and one bit-times-value product (2 rounds)."""
    neg = ltz(x, bits)
    return x - mul(neg, x, truncate=False)


def select(bit: AShare, if_one: AShare, if_zero: AShare) -> AShare:
    """bit ? if_one : if_zero for an integer 0/1 share (1 round)."""
    return if_zero + mul(bit, if_one - if_zero, truncate=False)


def _pairs(x: AShare, dim: int) -> tuple[AShare, AShare, AShare | None]:
    """Split along dim into first halves, second halves and an odd leftover."""
    n = x.shape[dim]
    half = n // 2
    a = x.data.narrow(dim, 0, half)
    b = x.data.narrow(dim, half, half)
    rest = x.data.narrow(dim, 2 * half, n - 2 * half) if n % 2 else None
    wrap = lambda t: AShare(x.party, t)
    return wrap(a), wrap(b), (wrap(rest) if rest is not None else None)


def max_(x: AShare, dim: int = -1, keepdim: bool = False, bits: int = 64, ignore_low: int = 0) -> AShare:
    """Maximum along dim by a pairwise tournament: 2 rounds per halving.

    ignore_low = L > 0 uses coarse comparisons (``ltz``): each level may keep an entry up to 2^L
    below its rival, so the result is within levels * 2^L below the true maximum."""
    dim = dim % x.dim()
    while x.shape[dim] > 1:
        a, b, rest = _pairs(x, dim)
        winner = select(ltz(a - b, bits, ignore_low), b, a)
        x = cat([winner, rest], dim) if rest is not None else winner
    return x if keepdim else x.squeeze(dim)


def argmax(x: AShare, dim: int = -1, bits: int = 64) -> AShare:
    """One-hot shares of the (first) position of the maximum along dim.

    A tournament carries (value, index) pairs, choosing both with one product per level;
    the winning index becomes a one-hot by rotating a dealer one-hot of a random position
    by the opened difference (1 round, log2 of the padded length bits per element).
    """
    dim = dim % x.dim()
    n = x.shape[dim]
    shape = [1] * x.dim()
    shape[dim] = n
    idx = AShare(x.party, torch.zeros(x.shape, dtype=torch.int64, device=x.data.device))
    idx = idx.add_public(torch.arange(n).reshape(shape).expand(x.shape).contiguous())
    return index_to_onehot(argmax_index(x, idx, dim, bits), n, dim)


def argmax_index(x: AShare, index: AShare, dim: int = -1, bits: int = 64) -> AShare:
    """Shares of ``index`` (same shape as x) at the maximum of x along dim, which is removed.

    A tournament carries (value, index) pairs, choosing both with one product per level: 2 rounds per
    halving, one comparison and one two-element product per pair. On a tie the earlier pair member wins."""
    dim = dim % x.dim()
    pair = cat([x.unsqueeze(0), index.unsqueeze(0)], 0)
    while pair.shape[dim + 1] > 1:
        a, b, rest = _pairs(pair, dim + 1)
        bit = ltz(a[0] - b[0], bits).unsqueeze(0)
        winner = a + mul(bit, b - a, truncate=False)
        pair = cat([winner, rest], dim + 1) if rest is not None else winner
    return pair[1].squeeze(dim)


def index_to_onehot(index: AShare, n: int, dim: int) -> AShare:
    """One-hot shares (length n along dim) of a shared integer index in [0, n)."""
    p = index.party
    bits = max(1, (n - 1).bit_length())
    size = 1 << bits
    out_shape = list(index.shape)
    out_shape.insert(dim, size)
    rows = index.numel()

    def produce() -> tuple:
        if p.role == DEALER:
            rho = p.prg[CLIENT].below((rows,), size) + p.prg[SERVER].ring((rows,))
            rho_val = rho & (size - 1)
            onehot = torch.zeros(rows, size, dtype=torch.int64)
            onehot[torch.arange(rows), rho_val] = 1
            oc = p.prg[CLIENT].ring((rows, size))
            p.send(SERVER, onehot - oc)
            return (meta_like(rho), meta_like(onehot))
        if p.role == CLIENT:
            return (p.prg[DEALER].below((rows,), size), p.prg[DEALER].ring((rows, size)))
        rho_s = p.prg[DEALER].ring((rows,))
        return (rho_s, p.recv_tensor(DEALER).reshape(rows, size))

    rho_i, onehot_i = take(p, produce)
    if p.symbolic:
        return AShare(p, placeholder(_onehot_shape(index.shape, n, dim)))
    c = open_low_bits(rho_i - index.data.reshape(-1), p, bits)
    cols = (torch.arange(size).unsqueeze(0) + c.unsqueeze(1)) % size
    rotated = torch.gather(onehot_i, 1, cols)[:, :n]
    out = rotated.reshape(*index.shape, n)
    return AShare(p, out.movedim(-1, dim).contiguous())


def _onehot_shape(index_shape: torch.Size, n: int, dim: int) -> list[int]:
    s = list(index_shape)
    s.insert(dim, n)
    return s

