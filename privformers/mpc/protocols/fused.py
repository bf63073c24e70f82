"""Elementwise products whose factors are truncated first, all in one round.

A factor is either clean (a share at the working scale) or raw: a share still to be divided by
2^k (a product not yet truncated). One opening per factor does both jobs: a raw factor is
opened as x + 2^62 + r, exactly as ``trunc`` does, which leaves its truncation in the form
z = P + M with P public and M one of two values the dealer knows (the opened top bit picks
which); a clean factor is opened as x - b, so z = P + M with M = b. A product z_i z_j =
P_i P_j + P_i M_j + M_i P_j + M_i M_j is then local, given dealer shares of the products of the
factors' masks. Chains like Newton's iterations therefore cost one round per product level
instead of two (one for the product, one for its truncation).
Cost: 8 bytes per element of each distinct factor, 1 round; the products come out untruncated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from privformers.mpc.material import correlated
from privformers.mpc.protocols.open import open_many
from privformers.mpc.protocols.trunc import OFFSET_BITS
from privformers.mpc.ring import RING_BITS, logical_rshift, msb
from privformers.mpc.shares import AShare


@dataclass(frozen=True)
class Factor:
    """A share and the bits by which it must still be truncated (0: clean)."""

    share: AShare
    k: int = 0


def _masks(r: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(U, T): the factor's mask is U + (1 - b) T, b the opened top bit (raw) or U = r, T = 0 (clean)."""
    if k == 0:
        return r, torch.zeros_like(r)
    return -logical_rshift(r, k), msb(r) << (RING_BITS - k)


def fused_mul(factors: list[Factor], pairs: list[tuple[int, int]] = (),
              powers: dict[int, int] | None = None) -> tuple[list[AShare], list[AShare], dict[int, list[AShare]]]:
    """Products of truncated factors, untruncated, all in one round.

    pairs: (i, j) asks for trunc(factor i) * trunc(factor j) (broadcasting like torch's ``*``);
    powers: {i: d} asks for trunc(factor i)^2 .. ^d (z^e = sum_a C(e, a) P^(e-a) M^a, local
    given dealer shares of the mask's powers). Returns (the truncated factors, the pair products,
    {i: [z^2, ..., z^d]}).
    """
    p = factors[0].share.party
    powers = dict(powers or {})
    for f in factors:
        if not 0 <= f.k < OFFSET_BITS:
            raise ValueError(f"truncation by {f.k} bits is out of range")
    shapes = [f.share.shape for f in factors]
    ks = [f.k for f in factors]
    pairs = list(pairs)

    def derive(rs: list[torch.Tensor]) -> list[torch.Tensor]:
        masks = [_masks(r, k) for r, k in zip(rs, ks)]
        out = [u for u, _ in masks] + [t for _, t in masks]
        for i, j in pairs:
            (ui, ti), (uj, tj) = masks[i], masks[j]
            out += [ui * uj, ui * tj, ti * uj, ti * tj]
        for i, d in sorted(powers.items()):
            u, t = masks[i]
            m1, m0 = u, u + t  # the mask when the opened top bit is 1, and when it is 0
            p1, p0 = m1, m0
            for _ in range(2, d + 1):
                p1, p0 = p1 * m1, p0 * m0
                out += [p1, p0 - p1]
        return out

    rs, derived = correlated(p, shapes, derive)
    n = len(factors)
    us, ts = derived[:n], derived[n:2 * n]
    rest = derived[2 * n:]
    to_open = [(f.share + r).add_public(1 << OFFSET_BITS) if f.k else f.share - r
               for f, r in zip(factors, rs)]
    opened = open_many(to_open)
    publics, not_b, masks = [], [], []
    for f, c, u, t in zip(factors, opened, us, ts):
        if f.k:
            nb = 1 - msb(c)
            publics.append(logical_rshift(c, f.k) - (1 << (OFFSET_BITS - f.k)))
            masks.append(u + t.mul_public(nb))
        else:
            nb = torch.zeros_like(c)
            publics.append(c)
            masks.append(u)
        not_b.append(nb)
    truncated = [m.add_public(pub) for m, pub in zip(masks, publics)]
    products = []
    for q, (i, j) in enumerate(pairs):
        uu, ut, tu, tt = rest[4 * q:4 * q + 4]
        mm = uu + ut.mul_public(not_b[j]) + tu.mul_public(not_b[i]) + tt.mul_public(not_b[i] * not_b[j])
        z = masks[j].mul_public(publics[i]) + masks[i].mul_public(publics[j]) + mm
        products.append(z.add_public(publics[i] * publics[j]))
    rest = rest[4 * len(pairs):]
    raised: dict[int, list[AShare]] = {}
    for i, d in sorted(powers.items()):
        mask_pows = [None, masks[i]]  # M^a for a = 0 (unused), 1, ..., d
        for _ in range(2, d + 1):
            base, diff0 = rest[0], rest[1]
            rest = rest[2:]
            mask_pows.append(base + diff0.mul_public(not_b[i]))
        raised[i] = [_binomial_power(publics[i], mask_pows, e) for e in range(2, d + 1)]
    return truncated, products, raised


def _binomial_power(pub: torch.Tensor, mask_pows: list, e: int) -> AShare:
    """(P + M)^e = sum_a C(e, a) P^(e - a) M^a, from shares of M^a (a >= 1)."""
    acc = None
    for a in range(1, e + 1):
        term = mask_pows[a].mul_public(math.comb(e, a) * pub ** (e - a))
        acc = term if acc is None else acc + term
    return acc.add_public(pub**e)


def trunc_mul(x: AShare, kx: int, y: AShare, ky: int) -> AShare:
    """trunc(x, kx) * trunc(y, ky) (k = 0: no truncation), untruncated, in one round."""
    return fused_mul([Factor(x, kx), Factor(y, ky)], [(0, 1)])[1][0]


def trunc_powers(x: AShare, k: int, degree: int) -> tuple[AShare, list[AShare]]:
    """(z, [z^2, ..., z^degree]) for z = trunc(x, k), powers untruncated, in one round."""
    truncated, _, raised = fused_mul([Factor(x, k)], [], {0: degree})
    return truncated[0], raised[0]
