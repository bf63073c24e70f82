"""Softmax along a dimension: max subtraction, exp, an optional public mask, reciprocal of the sum.

Domain: rows of any length up to 2^12 whose entries differ by at most 500 (e.g. logits in
[-30, 30] with rows up to 1024: error <= 1e-3, measured in the tests). Masked entries
(mask False) get probability exactly 0 and may hold any value.
"""

from __future__ import annotations

import math

import torch

from privformers.mpc.functions.exp import exp
from privformers.mpc.functions.reciprocal import reciprocal_raw
from privformers.mpc.protocols.fused import Factor, fused_mul
from privformers.mpc.protocols.select import max_
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare, where_public


def softmax(x: AShare, dim: int = -1, mask: torch.Tensor | None = None) -> AShare:
    """Shares of softmax(x) along dim; mask (public, broadcastable bool) keeps True entries."""
    dim = dim % x.dim()
    if mask is not None:
        mask = mask.to(torch.bool).expand(x.shape)
        low = torch.full(x.shape, -int(x.party.fp.encode(1000.0)), dtype=torch.int64)
        # masked entries are replaced by a public very low value before the max (client adds it)
        x = where_public(mask, x, x.mul_public(0).add_public(low))
    # Any m a little below the row's maximum keeps exp(x - m) in range, so the tournament compares
    # coarsely (to 2^-4, at most 12 levels: m >= max - 0.75) over the domain |differences| < 2^15.
    f = x.party.fp.frac_bits
    m = max_(x, dim=dim, keepdim=True, bits=f + 16, ignore_low=max(0, f - 4))
    e = exp(x - m)
    if mask is not None:
        e = e.mul_public(mask.to(torch.int64))
    s = e.sum(dim, keepdim=True)
    n = x.shape[dim]
    inv, k = reciprocal_raw(s, lo=-1, hi=max(1, math.ceil(math.log2(n)) + 1))
    keep = min(8, k)  # 1/s keeps 8 extra fractional bits into the product
    _, (p,), _ = fused_mul([Factor(e), Factor(inv, k - keep)], [(0, 1)])
    return trunc(p, x.party.fp.frac_bits + keep)
