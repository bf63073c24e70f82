"""Comparisons opened to both computing parties, between elements of a shuffled secret row, and sorts built on them.

Why opening them is safe: after ``shuffle`` each computing party knows only that the row was permuted by a
uniformly random permutation it cannot see. If the values are distinct, the rank each shuffled position holds
is then a uniformly random permutation of 0..n-1, whatever the values are. Every opened comparison is a
function of those ranks, and which pair an algorithm compares next is a function of earlier outcomes, so a
whole transcript of opened comparisons is simulated by drawing a uniform permutation: it reveals nothing
about the values, nor which element sits where (the shuffle hides that). What must stay secret is anything
that relates these ranks to other data: a comparison of values with fresh noise added (the Gumbel argmax in
sampling) is never opened alongside them.

The values must be distinct. A public tie-break (say, by shuffled position) is not enough: m tied elements
would always come out in position order, which shows how many ties there are (a test measures it). So
``distinct_keys`` appends each element's secret original index below the value, x 2^B + (2^B - 1 - index):
a fixed total order on the elements themselves (ties go to the lower index), which the shuffle turns into
uniformly random ranks. It costs B = ceil(log2 n) more bits of comparison and nothing else.

A comparison: shares of d = x_i - x_j - [i > j] (local), [d < 0] by ``ltz`` (1 round, 8 bytes per comparison per
party when bits > 32, else 4; offline one DCF key), and the bit opened (1 round, 1 bit per comparison,
packed). So a batch of comparisons that does not depend on the others' outcomes (a stage) costs 2 rounds.
Every stage's size depends only on the row length (the dealer makes the keys before anything is opened);
only which pairs are compared adapts to earlier outcomes. (Equal values, which distinct keys rule out, would
be ordered by shuffled position: the functions stay correct on them, but the transcript is then not
independent of the values.)
Domain: |x_i - x_j| < 2^(bits-1) - 1 ring units for every pair compared.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch

from privformers.mpc.protocols.compare import ltz
from privformers.mpc.shares import AShare


def index_bits(n: int) -> int:
    """B: the bits that hold an index below n (at least 1)."""
    return max(1, (n - 1).bit_length())


def distinct_keys(x: AShare, index: AShare) -> AShare:
    """Shares of x 2^B + (2^B - 1 - index) for secret indices in [0, n) that differ within a row (B =
    ``index_bits(n)``): the same order as x, ties going to the lower index, and no two keys equal. Local.
    Comparing keys needs B more bits than comparing x."""
    b = index_bits(x.shape[-1])
    return (x.lshift(b) - index).add_public((1 << b) - 1)


def open_bits(b: AShare) -> torch.Tensor:
    """Open integer 0/1 shares to both computing parties as a bool tensor: 1 round, 1 bit per element
    (the low bits of the two shares XOR to the bit; 8 of them per byte on the wire). All False on
    shape-only passes."""
    p = b.party
    if p.symbolic:
        return torch.zeros(b.shape, dtype=torch.bool)
    mine = np.packbits((b.data & 1).reshape(-1).to(torch.uint8).numpy())
    theirs = p.exchange(torch.from_numpy(mine)).numpy()
    bits = np.unpackbits(mine ^ theirs, count=b.numel())
    return torch.from_numpy(bits.astype(bool)).reshape(b.shape)


def ranks_below(x: AShare, i: torch.Tensor, j: torch.Tensor, bits: int, n_real: int | None = None) -> torch.Tensor:
    """Opened bits [position i ranks below position j] for pairs (i, j) of shuffled positions, (rows, m) each,
    in one stage (2 rounds). Positions >= n_real (default: the row length) are public padding that ranks below
    every element and among itself by position; their comparisons are settled in the clear (but still use
    their slot in the batch, so the stage's size does not depend on where they fall). i == j gives False."""
    p = x.party
    n_real = x.shape[1] if n_real is None else n_real
    if i.numel() == 0:
        return torch.zeros(i.shape, dtype=torch.bool)
    pad_i, pad_j = i >= n_real, j >= n_real
    real = ~(pad_i | pad_j)
    ic, jc = torch.where(real, i, 0), torch.where(real, j, 0)
    d = AShare(p, x.data.gather(1, ic) - x.data.gather(1, jc)).add_public(-(ic > jc).to(torch.int64))
    below = open_bits(ltz(d, bits))
    settled = torch.where(pad_i & pad_j, i > j, pad_i)   # padding below reals; between paddings, by position
    return torch.where(real, below, settled)


def sort_groups(x: AShare, groups: torch.Tensor, bits: int, n_real: int | None = None) -> torch.Tensor:
    """Each group of positions (rows, G, g) sorted by rank, highest first, by comparing all pairs in one stage:
    G g (g - 1) / 2 comparisons per row."""
    rows, n_groups, g = groups.shape
    if g <= 1:
        return groups
    a, b = torch.triu_indices(g, g, 1)
    i = groups[:, :, a].reshape(rows, -1)
    j = groups[:, :, b].reshape(rows, -1)
    below = ranks_below(x, i, j, bits, n_real).reshape(rows, n_groups, -1).to(torch.int64)
    above = torch.zeros(rows, n_groups, g, dtype=torch.int64)
    above.index_add_(2, a, below)        # a below b: one more element above a
    above.index_add_(2, b, 1 - below)
    return groups.gather(2, torch.argsort(above, dim=2, stable=True))


def merge_sorted(x: AShare, first: torch.Tensor, second: torch.Tensor, bits: int,
                 n_real: int | None = None) -> torch.Tensor:
    """Merge pairs of sorted runs (rows, M, L) each, highest first, into (rows, M, 2L).

    Every element of ``first`` finds by binary search how many elements of ``second`` rank above it:
    ceil(log2(L + 1)) stages of one comparison per element (an element whose search has ended compares
    with itself). Those counts place both runs: first[i] lands at i + r_i, second[j] at j + #{i: r_i <= j}."""
    rows, m, length = first.shape
    lo = torch.zeros_like(first)
    hi = torch.full_like(first, length)
    for _ in range(math.ceil(math.log2(length + 1))):
        active = lo < hi
        mid = torch.div(lo + hi, 2, rounding_mode="floor").clamp(max=length - 1)
        other = torch.where(active, second.gather(2, mid), first)
        below = ranks_below(x, first.reshape(rows, -1), other.reshape(rows, -1), bits, n_real).reshape(first.shape)
        lo = torch.where(active & below, mid + 1, lo)
        hi = torch.where(active & ~below, mid, hi)
    steps = torch.arange(length).expand(rows, m, length).contiguous()
    pos_first = (steps + lo).clamp(max=2 * length - 1)
    pos_second = (steps + torch.searchsorted(lo.contiguous(), steps, right=True)).clamp(max=2 * length - 1)
    merged = torch.empty(rows, m, 2 * length, dtype=first.dtype)
    merged.scatter_(2, pos_second, second)
    merged.scatter_(2, pos_first, first)
    return merged


def _merge_sort_plan(n: int) -> tuple[int, int]:
    """(padded length, first run length) of the cheapest merge sort of n elements, by comparisons."""
    size = 1 << max(0, math.ceil(math.log2(max(n, 1))))
    best = None
    for g in (2, 4, 8, 16, 32):
        if g > size:
            break
        cost, length = size * (g - 1) // 2, g
        while length < size:
            cost += size // 2 * math.ceil(math.log2(length + 1))
            length *= 2
        if best is None or cost < best[0]:
            best = (cost, g)
    return size, best[1] if best else 1


def merge_sort_cost(n: int) -> tuple[int, int]:
    """(comparisons, stages) per row of ``sort_desc`` by merging."""
    size, g = _merge_sort_plan(n)
    if size <= 1:
        return 0, 0
    cost, stages, length = size * (g - 1) // 2, 1, g
    while length < size:
        steps = math.ceil(math.log2(length + 1))
        cost, stages, length = cost + size // 2 * steps, stages + steps, length * 2
    return cost, stages


def merge_sort(x: AShare, bits: int) -> torch.Tensor:
    """Shuffled positions of each row (rows, n) sorted by rank, highest first: a merge sort whose merges
    search by opened comparisons. The row is padded to a power of two with public padding (ranked last);
    all-pairs sorts make the first runs. Cost per row: ``merge_sort_cost`` (about n log2(n)^2 / 4 comparisons,
    log2(n)^2 / 2 stages: 704 comparisons in 13 stages for n = 64)."""
    rows, n = x.shape
    size, g = _merge_sort_plan(n)
    runs = torch.arange(size).expand(rows, size).reshape(rows, size // g, g)
    runs = sort_groups(x, runs, bits, n_real=n)
    while runs.shape[1] > 1:
        runs = merge_sorted(x, runs[:, 0::2], runs[:, 1::2], bits, n_real=n)
    return runs.reshape(rows, size)[:, :n]


# -- exact top-k by halving ------------------------------------------------------------------------------
# What a stage (2 rounds) is worth in comparisons (8 bytes, a DCF key and its evaluations each) when
# choosing between plans: a LAN round trip's worth of evaluations. Plans depend on the row length alone,
# so a batch of rows costs the rounds of one.
STAGE_WEIGHT = 500


def _score(plan: tuple[int, int]) -> int:
    return plan[0] + STAGE_WEIGHT * plan[1]


@cache
def _top_plan(n: int, k: int) -> tuple[int, int, str]:
    """(comparisons per row, stages, 'all' or 'halve') of the cheaper way to find the sorted top k of n."""
    all_pairs = (n * (n - 1) // 2, 1 if n > 1 else 0, "all")
    if n < 4:
        return all_pairs
    w = (n + 1) // 2
    kk = min(k, w)
    sub = _top_plan(w, k)
    halve = (n // 2 + sub[0] + kk * (kk - 1), sub[1] + 2, "halve")
    return min(all_pairs, halve, key=lambda plan: _score(plan[:2]))


def top_sorted_cost(n: int, k: int) -> tuple[int, int]:
    """(comparisons per row, stages) of ``top_sorted``."""
    return _top_plan(n, k)[:2]


def top_sorted(x: AShare, k: int, bits: int) -> torch.Tensor:
    """Shuffled positions (rows, min(k, n)) of each row's k highest-ranked elements, highest first.

    Halving: pair the elements, one comparison per pair; the k best of the n/2 winners (recursively) hold
    the k best overall among themselves and their k partners (an element beaten by a winner outside the
    top k, or such a winner, has k elements above it). Among those 2k candidates the order is known except
    between partners, and between a partner and the winners ranked below its own: k (k - 1) comparisons in
    one stage settle it. Cost: about n + k (k - 1) log2(n / 2k) comparisons in 2 log2(n / 2k) + 1 stages
    (``top_sorted_cost``; small rows compare all pairs). Exact, with ties broken by shuffled position."""
    rows, n = x.shape
    return _top(x, torch.arange(n).expand(rows, n).contiguous(), k, bits)


def _top(x: AShare, ids: torch.Tensor, k: int, bits: int) -> torch.Tensor:
    rows, n = ids.shape
    if _top_plan(n, k)[2] == "all":
        return sort_groups(x, ids.unsqueeze(1), bits).squeeze(1)[:, :k]
    h = n // 2
    below = ranks_below(x, ids[:, :h], ids[:, h:2 * h], bits)
    win = torch.where(below, ids[:, h:2 * h], ids[:, :h])
    lose = torch.where(below, ids[:, :h], ids[:, h:2 * h])
    if n % 2:
        win = torch.cat([win, ids[:, 2 * h:]], 1)
        lose = torch.cat([lose, torch.full((rows, 1), -1, dtype=ids.dtype)], 1)
    top = _top(x, win, k, bits)
    kk = top.shape[1]
    partner_of = torch.full((rows, x.shape[1]), -1, dtype=ids.dtype)
    partner_of.scatter_(1, win, lose)
    part = partner_of.gather(1, top)
    dummy = part < 0
    part_c = torch.where(dummy, top, part)          # a stand-in position; its outcomes are overridden
    a, b = torch.triu_indices(kk, kk, 1)
    # one stage: partner a vs partner b, and partner a vs winner b (b ranked below a's own winner)
    below = ranks_below(x, torch.cat([part_c[:, a], part_c[:, a]], 1), torch.cat([part_c[:, b], top[:, b]], 1), bits)
    pp, ps = below[:, :a.numel()], below[:, a.numel():]
    # above[c, d]: candidate d ranks above candidate c; candidates are the winners 0..kk-1, then their partners
    above = torch.zeros(rows, 2 * kk, 2 * kk, dtype=torch.bool)
    r = torch.arange(kk)
    above[:, :kk, :kk] = r.unsqueeze(0) < r.unsqueeze(1)                 # winners: already sorted
    above[:, kk:, :kk] = r.unsqueeze(0) <= r.unsqueeze(1)                # winner j above partner i for j <= i
    above[:, kk + a, b] = ps                                             # partner a below winner b (a < b)
    above[:, b, kk + a] = ~ps
    above[:, kk + a, kk + b] = pp
    above[:, kk + b, kk + a] = ~pp
    eye = torch.eye(2 * kk, dtype=torch.bool)
    above[:, kk:, :] |= dummy.unsqueeze(2) & ~eye[kk:]                   # a missing partner ranks last
    above[:, :, kk:] &= ~dummy.unsqueeze(1)
    order = torch.argsort(above.sum(2), dim=1, stable=True)[:, :min(k, n)]
    return torch.cat([top, part], 1).gather(1, order)


def top_cost(n: int, k: int) -> tuple[int, int]:
    """(comparisons per row, stages) of ``top`` for the k best of n."""
    k = min(k, n)
    halving, merging = top_sorted_cost(n, k), merge_sort_cost(n)
    return min(halving, merging, key=_score)


def top(x: AShare, k: int, bits: int) -> torch.Tensor:
    """Shuffled positions (rows, min(k, n)) of each row's k highest-ranked elements, highest first, by the
    cheaper of ``top_sorted`` and ``merge_sort`` for this (public) n and k (``top_cost``): halving for a
    small k, a whole merge sort when k is a large part of n (k = n sorts the row)."""
    n = x.shape[1]
    k = min(k, n)
    if top_cost(n, k) == top_sorted_cost(n, k):
        return top_sorted(x, k, bits)
    return merge_sort(x, bits)[:, :k]
