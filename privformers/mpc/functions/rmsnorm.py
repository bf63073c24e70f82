"""RMSNorm's normalisation over the last dimension, x / sqrt(mean(x^2) + eps) (Llama, Qwen, Mistral,
Gemma; the weight is folded into the next projection, ``secure/fold.py``, or applied by the caller).

One fused round truncates x (when it is still a product, e.g. a residual sum with an attention output
not yet truncated) and squares it; rsqrt runs on the untruncated sum of squares S = d (mean + eps)
with sqrt(d) folded into its tables (as in ``layernorm.normalize``, without the centring); its
untruncated result meets x in one more fused product. The output comes out untruncated
(``rms_normalize_raw``): the next projection's read truncates it.
Domain: mean(x^2) + eps in [2^-20, 2^16] (LayerNorm's starts at 2^-12: Gemma 2 and 3 normalise attention
and MLP outputs too, which can be small), |x| < 2^14. Error: rsqrt's 1e-6 relative, plus x's rounding to
2^-f magnified by 1/rms(x) (about 2e-4 for rms 1; measured in the tests).
Cost: 7 rounds for a decode row (x^2, rsqrt's comparison and 4 products, the output product) and
8 for many rows (whole-octave guesses, one Newton step more), plus the output's truncation; one
round more at 18 or more fractional bits when S cannot go to rsqrt untruncated (as LayerNorm).
"""

from __future__ import annotations

import math

from privformers.mpc.functions.rsqrt import rsqrt_raw
from privformers.mpc.protocols.fused import Factor, fused_mul, trunc_powers
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare

LOW_LOG2 = 20   # mean(x^2) + eps down to 2^-20: Gemma 2's post-attention norms read small attention outputs


def rms_normalize_raw(x: AShare, eps: float = 1e-6, pending: int = 0) -> tuple[AShare, int]:
    """(shares of x / sqrt(mean(x^2) + eps) at scale 2^(f + k), k), over the last dimension.

    pending: x is at scale 2^(f + pending), a sum not yet truncated; the first round truncates it."""
    fp = x.party.fp
    f = fp.frac_bits
    d = x.shape[-1]
    z, (sq,) = trunc_powers(x, pending, 2)                                        # x at f, x^2 at 2f
    log_d = math.log2(d)
    lo, hi = math.floor(log_d) - LOW_LOG2, math.ceil(log_d) + 16
    s = sq.sum(-1, keepdim=True).add_public(int(fp.encode(eps * d)) << f)         # d (mean + eps), scale 2f
    room = f if hi + 2 * f + 3 <= 64 else 0   # room for rsqrt's comparison to read S untruncated
    if not room:
        s = trunc(s, f)
    inv, k = rsqrt_raw(s, lo=lo, hi=hi, scale=math.sqrt(d), pending=room)
    _, (y,), _ = fused_mul([Factor(z), Factor(inv, k - f)], [(0, 1)])            # 1/rms kept at 2f bits
    return y, 2 * f


def rms_normalize(x: AShare, eps: float = 1e-6, pending: int = 0) -> AShare:
    """Shares of x / sqrt(mean(x^2) + eps) at the working scale."""
    y, k = rms_normalize_raw(x, eps, pending)
    return trunc(y, k)
