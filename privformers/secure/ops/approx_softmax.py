"""The approximated attention softmaxes under MPC, each charged to the "softmax" op class.

2Quad: (x + c)^2 by one square (fused with the scores' pending truncation), left untruncated
(only the row sums and the final product are truncated), masked entries zeroed by the public
keep-mask (local), the row sum (local), one reciprocal per row. 2ReLU: the same with a ReLU (one comparison per entry).
THE-X's cubic: ReLU(x/2 + 1) cubed (comparison, square, product), the row mean (public 1/n), the
learned normaliser (three products with server weights and 2H comparisons per row), one product.
The reciprocal's domain is [2^lo, 2^hi] with hi from the row length (``RECIPROCAL_HEADROOM``).
The comparisons on the scores assume |score| < 2^15 (as GeLU's do), so their DCF has f + 15 levels, not 63.
"""

from __future__ import annotations

import math

import torch

from privformers.approx.cubic_softmax import OUTPUT_SCALE, cubic_relu_softmax, kept_count
from privformers.approx.two_quad import two_quad_softmax
from privformers.approx.two_relu import two_relu_softmax
from privformers.mpc.functions.reciprocal import reciprocal
from privformers.mpc.protocols.beaver import mul, square
from privformers.mpc.protocols.fused import trunc_powers
from privformers.mpc.protocols.select import relu
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.values import as_share, encode_public, secret

SCORE_LOG2 = 15  # |attention score| < 2^15: the comparisons on scores use f + 16 bits
RECIPROCAL_HEADROOM = {"2quad": (-4, 12), "2relu": (-8, 8)}  # (lo, extra hi bits above log2(row length))


def _keep(x: SecretTensor, keep: torch.Tensor | None) -> torch.Tensor | None:
    """The public keep-mask: the argument combined with one collected from an additive mask."""
    masks = [m for m in (keep, x.mask) if m is not None]
    if not masks:
        return None
    out = masks[0].to(torch.bool)
    for m in masks[1:]:
        out = out & m.to(torch.bool)
    return out


def _zero_masked(s: AShare, keep: torch.Tensor | None) -> AShare:
    return s if keep is None else s.mul_public(keep.to(torch.int64))


def _score_bits(s: AShare) -> int:
    return s.party.fp.frac_bits + SCORE_LOG2 + 1


def _normalise(num: AShare, kind: str, raw_bits: int = 0) -> AShare:
    """num / (row sum of num), by the engine's reciprocal over a domain sized for the row length.

    raw_bits > 0: num is an untruncated product, at 2^raw_bits times the working scale. Only its
    row sums are truncated (one element per row), and the final product's truncation removes
    the rest, which saves truncating every entry."""
    lo, extra = RECIPROCAL_HEADROOM[kind]
    hi = math.ceil(math.log2(max(num.shape[-1], 2))) + extra
    total = num.sum(-1, keepdim=True)
    inv = reciprocal(trunc(total, raw_bits) if raw_bits else total, lo=lo, hi=hi)
    return trunc(mul(num, inv, truncate=False), num.party.fp.frac_bits + raw_bits)


@register_op(two_quad_softmax)
def secure_two_quad(scores: SecretTensor, keep: torch.Tensor | None = None, c: float = 5.0) -> SecretTensor:
    party = scores.party
    f = party.fp.frac_bits
    with party.meter.scope("softmax"):
        if isinstance(scores, SecretTensor) and scores.pending:   # Q K^T untruncated: truncate while squaring
            k = scores.pending
            _, (q,) = trunc_powers(scores.raw.add_public(round(c * 2 ** (f + k))), k, 2)
        else:
            q = square(as_share(scores).add_public(encode_public(party, c)), truncate=False)
        # q = (x + c)^2 at scale 2f
        return secret(_normalise(_zero_masked(q, _keep(scores, keep)), "2quad", raw_bits=f))


@register_op(two_relu_softmax)
def secure_two_relu(scores: SecretTensor, keep: torch.Tensor | None = None) -> SecretTensor:
    s = as_share(scores)
    with s.party.meter.scope("softmax"):
        r = _zero_masked(relu(s, _score_bits(s)), _keep(scores, keep))
        return secret(_normalise(r, "2relu"))


def _server_linear(x: AShare, w: ServerParam, b: ServerParam) -> AShare:
    """x @ W^T + b for a server-held weight and bias (the bias added by the server)."""
    return trunc(w.weight.product(x, "matmul_t")) + as_share(b)


@register_op(cubic_relu_softmax)
def secure_cubic(scores: SecretTensor, keep: torch.Tensor | None, w1: ServerParam, b1: ServerParam, w2: ServerParam,
                 b2: ServerParam, w3: ServerParam, b3: ServerParam) -> SecretTensor:
    s = as_share(scores)
    p = s.party
    keep = _keep(scores, keep)
    inv_n = encode_public(p, 1.0 / kept_count(keep, scores.shape))
    out_scale = encode_public(p, 1.0 / (kept_count(keep, scores.shape) * OUTPUT_SCALE))
    with p.meter.scope("softmax"):
        r = relu(trunc(s, 1).add_public(int(p.fp.encode(1.0))), _score_bits(s))
        e = _zero_masked(mul(square(r), r), keep)
        m = trunc(e.sum(-1, keepdim=True).mul_public(inv_n))
        g = _server_linear(relu(_server_linear(relu(_server_linear(m, w1, b1)), w2, b2)), w3, b3)
        return secret(mul(e, trunc(g.mul_public(out_scale))))
