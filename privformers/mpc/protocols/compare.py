"""Comparison with zero in one online round, by function secret sharing (as in SIGMA/Orca).

For x with |x| < 2^(n-1): the parties open c = x + r mod 2^n for a dealer mask r. With
c', r' the low n-1 bits and c_m, m the top bits, msb(x) = c_m xor m xor [c' < r']. The dealer
gives DCF keys for y -> (1 - 2m) [y < r'] and shares of m, so m xor [c' < r'] is a local sum,
and xor with the public c_m is local too.
Cost: ceil(n/8) bytes per element per party (8 at n = 64, 4 at n <= 32), 1 round; offline about
24 + 25(n-1) bytes of DCF key per element per party for large batches. Smaller batches use a tree of
4 or 16 children per node (``radix_dcf``, ``radix_bits_for``): half or a quarter of the levels, whose
numpy calls dominate small batches (a decode step's comparisons), for about 2 or 3.7 times the key.
"""

from __future__ import annotations

import numpy as np
import torch

from privformers.mpc.fss import DCFKey, dcf_eval, dcf_keygen
from privformers.mpc.fss.radix_dcf import RadixDCFKey, radix_dcf_eval, radix_dcf_keygen
from privformers.mpc.material import take
from privformers.mpc.party import CLIENT, DEALER, SERVER, Party, meta_like, placeholder
from privformers.mpc.ring import low_bits
from privformers.mpc.shares import AShare
from privformers.mpc.transport.base import TransportError

_KEY_FIELDS = ("seed", "scw", "tcw", "vcw", "fcw")
_RADIX_KEY_FIELDS = ("seed", "scw", "tcw", "vcw")
# (most elements, input bits per DCF level): 16 children per node up to 256 elements (3.7x the key,
# evaluation 3-4x faster), 4 children up to 16,384 (1.9x the key, 1.5-2x faster), binary above. At 1,024
# for 16 children, the built-in model's 12-token generation took 478 MB of material instead of 369 MB,
# for no measurable gain in time (BENCHMARKS.md).
RADIX_STEPS = ((256, 4), (16384, 2))


def radix_bits_for(n: int) -> int:
    """Input bits per DCF level for a batch of n elements (public: both sides derive it from the shape)."""
    return next((bits for most, bits in RADIX_STEPS if n <= most), 1)


def _to_torch(a: np.ndarray) -> torch.Tensor:
    if a.dtype == np.uint64:
        a = a.view(np.int64)
    return torch.from_numpy(np.ascontiguousarray(a))


def _send_key(party: Party, to: str, key: DCFKey | RadixDCFKey) -> None:
    arrays = key.to_arrays()
    for name in _RADIX_KEY_FIELDS if isinstance(key, RadixDCFKey) else _KEY_FIELDS:
        party.send(to, _to_torch(arrays[name]))


def _recv_key(party: Party, n_bits: int, radix_bits: int = 1) -> DCFKey | RadixDCFKey:
    arrays: dict[str, np.ndarray] = {"n_bits": np.array(n_bits, dtype=np.int64)}
    for name in _KEY_FIELDS if radix_bits == 1 else _RADIX_KEY_FIELDS:
        a = party.recv_tensor(DEALER).numpy()
        arrays[name] = a.view(np.uint64) if a.dtype == np.int64 else a
    try:
        if radix_bits == 1:
            return DCFKey.from_arrays(arrays)
        return RadixDCFKey.from_arrays(n_bits, radix_bits, arrays)
    except (ValueError, TypeError) as exc:
        raise TransportError(f"malformed comparison key from the dealer: {exc}") from None


def pack_low_bits(t: torch.Tensor, n: int) -> torch.Tensor:
    """t mod 2^n in the narrowest integer dtype that holds n bits (for cheaper openings)."""
    t = low_bits(t, n) if n < 64 else t
    for bits, dtype in ((8, torch.int8), (16, torch.int16), (32, torch.int32)):
        if n <= bits:
            return torch.where(t >= 1 << (bits - 1), t - (1 << bits), t).to(dtype)
    return t


def open_low_bits(x: torch.Tensor, party: Party, n: int) -> torch.Tensor:
    """Open x mod 2^n, sending only the low n bits of each share: one round."""
    mine = pack_low_bits(x, n)
    theirs = party.exchange(mine)
    total = mine.to(torch.int64) + theirs.to(torch.int64)
    return low_bits(total, n) if n < 64 else total


def ltz(x: AShare, bits: int = 64, ignore_low: int = 0) -> AShare:
    """Shares of the integer bit [x < 0], for x in [-2^(bits-1), 2^(bits-1)) (ring units).

    ignore_low = L > 0 compares only the top bits (a DCF of bits - 1 - L levels instead of bits - 1:
    less key material and time). The result is then exact except for x in (-2^L, 0), where it may
    be 0: use it where values that close below 0 may go either way (e.g. a branch whose two sides
    agree near its threshold)."""
    return below_thresholds(x, torch.zeros(1, dtype=torch.int64), bits, ignore_low)[0]


def below_thresholds(x: AShare, thresholds: torch.Tensor, bits: int = 64, ignore_low: int = 0) -> AShare:
    """Shares of [x < t_j] for T public ring thresholds t_j, shape (T, *x.shape), in one round.

    x is masked and opened once (c = x + r); c - t_j = (x - t_j) + r is then public to both parties for
    every j, and one DCF key per element of x, evaluated at T points, compares them all. So the online
    bytes and the key material are those of one comparison per element, not T; only the local DCF
    evaluations grow with T. Every x - t_j must lie in [-2^(bits-1), 2^(bits-1)); ignore_low as in ``ltz``.
    """
    if not 2 <= bits <= 64:
        raise ValueError("bits must be in [2, 64]")
    if not 0 <= ignore_low <= bits - 3:
        raise ValueError(f"ignore_low must be in [0, bits - 3], got {ignore_low}")
    t = torch.as_tensor(thresholds, dtype=torch.int64).reshape(-1)
    if t.numel() == 0:
        raise ValueError("need at least one threshold")
    levels = bits - 1 - ignore_low
    p = x.party
    shape = x.shape
    n = int(np.prod(shape)) if len(shape) else 1
    radix = radix_bits_for(n)

    def produce() -> tuple:
        if p.role == DEALER:
            r = p.prg[CLIENT].ring(shape) + p.prg[SERVER].ring(shape)
            r = low_bits(r, bits) if bits < 64 else r
            r_low = low_bits(r, bits - 1)
            m = (r >> (bits - 1)) & 1
            alpha = (r_low >> ignore_low).reshape(-1).numpy().view(np.uint64)
            beta = (1 - 2 * m).reshape(-1).numpy().view(np.uint64)
            if radix == 1:
                k0, k1 = dcf_keygen(alpha, beta, levels, rng=p.local_prg.random_bytes)
            else:
                k0, k1 = radix_dcf_keygen(alpha, beta, levels, radix, rng=p.local_prg.random_bytes)
            m_c = p.prg[CLIENT].ring(shape)
            p.send(SERVER, m - m_c)
            _send_key(p, CLIENT, k0)
            _send_key(p, SERVER, k1)
            return (meta_like(r), meta_like(m), None)
        r_i = p.prg[DEALER].ring(shape)
        m_i = p.prg[DEALER].ring(shape) if p.role == CLIENT else p.recv_tensor(DEALER)
        return (r_i, m_i, _recv_key(p, levels, radix))

    r_i, m_i, key = take(p, produce)
    out_shape = (t.numel(), *shape)
    if p.symbolic:
        return AShare(p, placeholder(out_shape))
    if key.n != n:
        raise TransportError("comparison key batch does not match the input")
    c = open_low_bits(x.data + r_i, p, bits).unsqueeze(0) - t.reshape(-1, *([1] * len(shape)))
    c = low_bits(c, bits) if bits < 64 else c
    c_low = low_bits(c, bits - 1)
    c_m = (c >> (bits - 1)) & 1
    points = (c_low >> ignore_low).reshape(-1).numpy().view(np.uint64)
    u = radix_dcf_eval(p.index, key, points) if isinstance(key, RadixDCFKey) else dcf_eval(p.index, key, points)
    s = m_i.unsqueeze(0) + torch.from_numpy(u.view(np.int64)).reshape(out_shape)
    out = s * (1 - 2 * c_m)
    if p.index == 0:
        out = out + c_m
    return AShare(p, out)


def gtz(x: AShare, bits: int = 64) -> AShare:
    """Shares of [x > 0] = [-x < 0]."""
    return ltz(-x, bits)


def lt(x: AShare, y: AShare | torch.Tensor | int, bits: int = 64) -> AShare:
    """Shares of [x < y]."""
    return ltz(x - y, bits)
