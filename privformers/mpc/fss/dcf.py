"""Batched Distributed Comparison Function (BCG+21 Fig. 3) over Z_{2^64} with a fixed-key AES PRG.

For every element j the dealer produces keys (k0_j, k1_j) for f_j(x) = beta_j if x < alpha_j else 0
(unsigned n-bit comparison); ``dcf_eval(0, k0, x) + dcf_eval(1, k1, x) == f(x) mod 2^64`` and each key
alone is pseudorandom.  Bits are processed MSB first.  PRG per node s (see ``aes_prg``):
block 0 = G_0(s) -> (s^L, t^L), block 1 = G_1(s) -> (s^R, t^R), block 2 = G_2(s) -> (v^L, v^R) as its two
64-bit words.  t is the low bit of the block's first byte, which is then cleared from the seed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from privformers.mpc.fss.aes_prg import U64, mmo_inplace, prg_expand

Rng = Callable[[int], bytes]

_ONE = np.uint64(1)
_CLEAR_T = np.uint64(0xFFFFFFFFFFFFFFFE)
_V_TWEAK = np.uint64(2)  # tweak of the value block; seed blocks use tweak 0 (L) / 1 (R)


@dataclass
class DCFKey:
    """One party's DCF keys for N elements (flat); correction words are identical in both parties' keys."""

    n_bits: int
    seed: np.ndarray  # (N, 16) uint8 root seed s^(0)
    scw: np.ndarray  # (n_bits, N, 16) uint8 seed corrections (low bit of byte 0 is always 0)
    tcw: np.ndarray  # (n_bits, N) uint8 control-bit corrections, bit 0 = t_CW^L, bit 1 = t_CW^R
    vcw: np.ndarray  # (n_bits, N) uint64 value corrections V_CW
    fcw: np.ndarray  # (N,) uint64 final correction CW^(n+1)

    @property
    def n(self) -> int:
        """Number of elements (independent comparisons) in the batch."""
        return int(self.fcw.shape[0])

    @property
    def nbytes(self) -> int:
        """Total bytes of the key's arrays (``to_arrays`` wire size minus the 8-byte n_bits)."""
        return int(self.seed.nbytes + self.scw.nbytes + self.tcw.nbytes + self.vcw.nbytes + self.fcw.nbytes)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Serialise to plain numpy arrays for transport (no pickle)."""
        return {
            "n_bits": np.array(self.n_bits, dtype=np.int64),
            "seed": self.seed,
            "scw": self.scw,
            "tcw": self.tcw,
            "vcw": self.vcw,
            "fcw": self.fcw,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DCFKey:
        """Rebuild a key from ``to_arrays`` output, validating dtypes and shapes."""
        n_bits = int(np.asarray(arrays["n_bits"]))
        key = cls(
            n_bits=n_bits,
            seed=np.ascontiguousarray(arrays["seed"], dtype=np.uint8),
            scw=np.ascontiguousarray(arrays["scw"], dtype=np.uint8),
            tcw=np.ascontiguousarray(arrays["tcw"], dtype=np.uint8),
            vcw=np.ascontiguousarray(arrays["vcw"], dtype=U64),
            fcw=np.ascontiguousarray(arrays["fcw"], dtype=U64),
        )
        key.validate()
        return key

    def elements(self, start: int, stop: int) -> DCFKey:
        """The keys of elements start..stop-1 (contiguous; no copy when they are all of them)."""
        c = np.ascontiguousarray
        return DCFKey(self.n_bits, c(self.seed[start:stop]), c(self.scw[:, start:stop]), c(self.tcw[:, start:stop]),
                      c(self.vcw[:, start:stop]), c(self.fcw[start:stop]))

    def validate(self) -> None:
        """Raise ValueError if array shapes/dtypes are inconsistent with n_bits and N."""
        n, nb = self.n, self.n_bits
        if not 1 <= nb <= 64:
            raise ValueError(f"n_bits must be in [1, 64], got {nb}")
        expect = {
            "seed": ((n, 16), np.uint8),
            "scw": ((nb, n, 16), np.uint8),
            "tcw": ((nb, n), np.uint8),
            "vcw": ((nb, n), np.uint64),
            "fcw": ((n,), np.uint64),
        }
        for name, (shape, dt) in expect.items():
            a = getattr(self, name)
            if a.shape != shape or a.dtype != dt:
                raise ValueError(f"DCFKey.{name}: expected {shape} {np.dtype(dt)}, got {a.shape} {a.dtype}")


def _bits_msb_first(v: np.ndarray, n_bits: int) -> np.ndarray:
    """(n_bits, N) uint64 array of the bits of v (N,) uint64, most significant of the n_bits first."""
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.uint64)[:, None]
    return (v[None, :] >> shifts) & _ONE


def _check_input(v: np.ndarray, n_bits: int, name: str) -> np.ndarray:
    """Flatten to uint64 and check every value fits in n_bits bits."""
    a = np.asarray(v)
    if a.dtype.kind not in "ui":
        raise TypeError(f"{name} must be an integer array, got {a.dtype}")
    if a.dtype.kind == "i" and a.size and a.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    a = np.ascontiguousarray(a.reshape(-1)).astype(U64, copy=False)
    if n_bits < 64 and a.size and int(a.max()) >> n_bits:
        raise ValueError(f"{name} has values >= 2^{n_bits}")
    return a


def dcf_keygen(
    alpha: np.ndarray, beta: np.ndarray | int, n_bits: int, rng: Rng = os.urandom
) -> tuple[DCFKey, DCFKey]:
    """Keys for f_j(x) = beta_j if x < alpha_j else 0 (unsigned n_bits-bit), output in Z_{2^64}.

    alpha: uint64 values < 2^n_bits (any shape, flattened); beta: same shape or broadcastable (taken mod
    2^64).  All randomness (the two root seeds, 32 bytes per element) comes from ``rng`` (a CSPRNG).
    """
    if not 1 <= n_bits <= 64:
        raise ValueError(f"n_bits must be in [1, 64], got {n_bits}")
    a = _check_input(alpha, n_bits, "alpha")
    n = a.shape[0]
    b_arr = np.asarray(beta)
    if b_arr.dtype.kind not in "ui":
        raise TypeError(f"beta must be an integer array, got {b_arr.dtype}")
    b_arr = b_arr.astype(np.int64).view(U64) if b_arr.dtype.kind == "i" else b_arr.astype(U64)
    beta_u = np.ascontiguousarray(np.broadcast_to(b_arr, np.shape(alpha)).reshape(-1))

    raw = np.frombuffer(rng(32 * n), dtype=np.uint8)
    if raw.shape[0] != 32 * n:
        raise ValueError("rng returned the wrong number of bytes")
    roots = raw.reshape(2, n, 16).copy()
    roots[:, :, 0] &= np.uint8(0xFE)  # seeds never carry the control-bit position
    s = roots.view(U64).reshape(2 * n, 2).copy()  # rows [0:n] party 0, [n:2n] party 1
    t0 = np.zeros(n, dtype=U64)
    t1 = np.ones(n, dtype=U64)
    v_alpha = np.zeros(n, dtype=U64)

    abits = _bits_msb_first(a, n_bits)
    scw = np.empty((n_bits, n, 2), dtype=U64)
    tcw = np.empty((n_bits, n), dtype=np.uint8)
    vcw = np.empty((n_bits, n), dtype=U64)

    for i in range(n_bits):
        ai = abits[i]
        amask = np.uint64(0) - ai  # all ones where alpha_i = 1 (Lose = L, Keep = R)
        m2 = np.tile(amask, 2)
        g = prg_expand(s, (0, 1, 2))  # (3, 2n, 2), freshly allocated: modified in place below
        tl = g[0, :, 0] & _ONE
        tr = g[1, :, 0] & _ONE
        g[0:2, :, 0] &= _CLEAR_T
        # Swap L/R where a_i = 1 so that g[0] = Keep and g[1] = Lose (and likewise for values and t).
        d = g[0] ^ g[1]
        d &= m2[:, None]
        g[0] ^= d
        g[1] ^= d
        s_keep, s_lose = g[0], g[1]
        dv = g[2, :, 0] ^ g[2, :, 1]
        dv &= m2
        v_keep = g[2, :, 0] ^ dv
        v_lose = g[2, :, 1] ^ dv
        t_keep = tl ^ ((tl ^ tr) & m2 & _ONE)

        s_cw = s_lose[:n] ^ s_lose[n:]
        sgn = _ONE - (t1 << _ONE)  # (-1)^{t1} in Z_{2^64}
        v_cw = sgn * (v_lose[n:] - v_lose[:n] - v_alpha + (beta_u & amask))
        v_alpha = v_alpha - v_keep[n:] + v_keep[:n] + sgn * v_cw
        t_cw_l = tl[:n] ^ tl[n:] ^ ai ^ _ONE
        t_cw_r = tr[:n] ^ tr[n:] ^ ai
        t_cw_keep = t_cw_l ^ ((t_cw_l ^ t_cw_r) & ai)

        scw[i] = s_cw
        tcw[i] = t_cw_l | (t_cw_r << _ONE)
        vcw[i] = v_cw

        # s_b <- s_b^Keep ^ t_b * s_CW ; t_b <- t_b^Keep ^ t_b * t_CW^Keep
        s_keep[:n] ^= s_cw & (np.uint64(0) - t0)[:, None]
        s_keep[n:] ^= s_cw & (np.uint64(0) - t1)[:, None]
        s = s_keep
        t0, t1 = t_keep[:n] ^ (t0 & t_cw_keep), t_keep[n:] ^ (t1 & t_cw_keep)

    sgn = _ONE - (t1 << _ONE)
    fcw = sgn * (s[n:, 1] - s[:n, 1] - v_alpha)

    scw_u8 = scw.view(np.uint8).reshape(n_bits, n, 16)
    k0 = DCFKey(n_bits, roots[0], scw_u8, tcw, vcw, fcw)
    k1 = DCFKey(n_bits, roots[1], scw_u8.copy(), tcw.copy(), vcw.copy(), fcw.copy())
    return k0, k1


# evaluations per pass of the level loop (196,608 keys x 2 points: 0.28 s; 0.30 s at 8,192; 0.47 s in one pass)
EVAL_BLOCK = 16384


def dcf_eval(party: int, key: DCFKey, x: np.ndarray, block: int | None = None) -> np.ndarray:
    """Party's uint64 share of f(x) = beta if x < alpha else 0, elementwise; output has x's shape.

    x holds r * key.n values < 2^n_bits (any shape with that many elements, r >= 1): row j of the flat
    (r, key.n) view is evaluated with key j's element, so one key serves r points per element. A key
    may be evaluated anywhere (FSS security covers its whole truth table), so this reveals nothing more.
    Large batches run in blocks of about ``block`` (default ``EVAL_BLOCK``) evaluations, element ranges
    times groups of points: the same values, faster once one pass's arrays would outgrow the cache.
    """
    if party not in (0, 1):
        raise ValueError("party must be 0 or 1")
    key.validate()
    nb, n = key.n_bits, key.n
    xs = _check_input(x, nb, "x")
    if (n == 0) != (xs.shape[0] == 0) or (n and xs.shape[0] % n):
        raise ValueError(f"x has {xs.shape[0]} elements but the key holds {n}: need a multiple of it")
    reps = xs.shape[0] // n if n else 1
    block = EVAL_BLOCK if block is None else block
    if block < 1:
        raise ValueError("block must be at least 1")
    if reps * n <= block:
        return _eval_block(party, key, xs, reps).reshape(np.shape(x))
    grid = xs.reshape(reps, n)
    out = np.empty((reps, n), dtype=U64)
    ranges = -(-n // block)
    width = -(-n // ranges)                      # element ranges of equal size
    group = max(1, block // width)               # points per block
    for a in range(0, n, width):
        part = key.elements(a, a + width)
        for r in range(0, reps, group):
            xb = np.ascontiguousarray(grid[r:r + group, a:a + width])
            out[r:r + group, a:a + width] = _eval_block(party, part, xb.reshape(-1), xb.shape[0]).reshape(xb.shape)
    return out.reshape(np.shape(x))


def _eval_block(party: int, key: DCFKey, xs: np.ndarray, reps: int) -> np.ndarray:
    """``dcf_eval`` of flat checked inputs xs, (reps, key.n) row-major, in one pass of the level loop."""
    nb, n = key.n_bits, key.n
    total = reps * n

    scw = np.ascontiguousarray(key.scw).view(U64).reshape(nb, 1, n, 2)
    vcw, tcw = key.vcw.reshape(nb, 1, n), key.tcw.reshape(nb, 1, n)
    # Two ping-pong buffers of 2 * total blocks: [0:total] seed blocks (tweak x_i), the rest value blocks (tweak 2).
    bufs = (np.empty((2 * total, 2), dtype=U64), np.empty((2 * total, 2), dtype=U64))
    seed = np.ascontiguousarray(key.seed).view(U64).reshape(n, 2)
    s = np.tile(seed, (reps, 1)) if reps > 1 else seed
    t = np.full(total, party, dtype=U64)
    acc = np.zeros(total, dtype=U64)
    mask = np.empty(total, dtype=U64)
    tmp2 = np.empty((total, 2), dtype=U64)
    tmp = np.empty(total, dtype=U64)
    tn = np.empty(total, dtype=U64)
    mask3, tmp2_3, tmp_2 = mask.reshape(reps, n, 1), tmp2.reshape(reps, n, 2), tmp.reshape(reps, n)

    for i in range(nb):
        xi = (xs >> np.uint64(nb - 1 - i)) & _ONE
        buf = bufs[i & 1]
        sb, vb = buf[:total], buf[total:]
        sb[...] = s
        vb[...] = s
        sb[:, 1] ^= xi
        vb[:, 1] ^= _V_TWEAK
        mmo_inplace(buf)
        # control bit and seed of the chosen child, corrected by t * (s_CW || t_CW^{x_i})
        np.bitwise_and(sb[:, 0], _ONE, out=tn)
        sb[:, 0] &= _CLEAR_T
        np.subtract(np.uint64(0), t, out=mask)
        np.bitwise_and(scw[i], mask3, out=tmp2_3)
        sb ^= tmp2
        np.right_shift(tcw[i], xi.astype(np.uint8).reshape(reps, n), out=tmp_2, casting="unsafe")
        tmp &= t
        tn ^= tmp
        # value word of the chosen child: word x_i of the value block, plus t * V_CW
        np.bitwise_xor(vb[:, 0], vb[:, 1], out=tmp)
        tmp &= np.uint64(0) - xi
        tmp ^= vb[:, 0]
        acc += tmp
        np.bitwise_and(vcw[i], mask.reshape(reps, n), out=tmp_2)
        acc += tmp
        s = sb
        t, tn = tn, t

    acc += s[:, 1]
    acc += (key.fcw.reshape(1, n) & (np.uint64(0) - t).reshape(reps, n)).reshape(-1)
    if party == 1:
        np.negative(acc, out=acc)
    return acc


def bench_dcf(n: int, n_bits: int, repeats: int = 3, points: int = 1) -> dict[str, float]:
    """Time keygen and per-party eval for n random elements at ``points`` points each; best-of seconds
    (eval in ``EVAL_BLOCK`` blocks, and in one pass as ``eval_one_pass_s``) and key size."""
    alpha = np.frombuffer(os.urandom(8 * n), dtype=U64) >> np.uint64(64 - n_bits)
    beta = np.frombuffer(os.urandom(8 * n), dtype=U64)
    x = np.frombuffer(os.urandom(8 * n * points), dtype=U64) >> np.uint64(64 - n_bits)
    kg, ev, one = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        k0, k1 = dcf_keygen(alpha, beta, n_bits)
        kg.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        y0 = dcf_eval(0, k0, x)
        ev.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        z0 = dcf_eval(0, k0, x, block=x.size)
        one.append(time.perf_counter() - t0)
    y1 = dcf_eval(1, k1, x)
    want = np.where(x.reshape(points, n) < alpha, beta, np.uint64(0)).reshape(-1)
    ok = bool(np.array_equal(y0 + y1, want) and np.array_equal(y0, z0))
    return {
        "n": float(n),
        "n_bits": float(n_bits),
        "points": float(points),
        "keygen_s": min(kg),
        "eval_s": min(ev),
        "eval_one_pass_s": min(one),
        "key_bytes_per_element": k0.nbytes / n,
        "correct": float(ok),
    }

