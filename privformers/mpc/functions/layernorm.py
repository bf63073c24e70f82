"""LayerNorm over the last dimension: mean, variance, rsqrt, then the affine map.

Domain: variance + eps in [2^-12, 2^16], |x| < 2^14. The affine weights are public to the computing code
here (plain tensors) or server-held (``ServerWeight``, used by the secure runtime).
"""

from __future__ import annotations

import math

import torch

from privformers.mpc.functions.rsqrt import rsqrt_raw
from privformers.mpc.protocols.fused import Factor, fused_mul, trunc_powers
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare


def normalize(x: AShare, eps: float = 1e-5) -> AShare:
    """(x - mean) / sqrt(var + eps) over the last dimension.

    The mean is subtracted before any truncation (1/d at f + 16 bits: at f bits alone, 1/768 is
    off by 0.4%, which shows in every output); one fused round truncates the centred values and
    squares them; rsqrt runs on the sum of squares S = d (var + eps) with sqrt(d) folded into its
    tables, and its untruncated result meets the centred values in one more fused product. S is
    handed to rsqrt untruncated: its comparison reads S as it is and its first product truncates it
    (one round fewer), where the ring leaves room for S at 2f bits.
    Domain: var + eps in [2^-12, 2^16], |x| < 2^14.
    """
    fp = x.party.fp
    f = fp.frac_bits
    d = x.shape[-1]
    extra = 16
    inv_d = round(2 ** (f + extra) / d)
    centered_raw = x.lshift(f + extra) - x.sum(-1, keepdim=True).mul_public(inv_d)   # scale 2f + 16
    centered, (sq,) = trunc_powers(centered_raw, f + extra, 2)
    log_d = math.log2(d)
    lo, hi = math.floor(log_d) - 12, math.ceil(log_d) + 16
    s = sq.sum(-1, keepdim=True).add_public(int(fp.encode(eps * d)) << f)            # d (var + eps), scale 2f
    pending = f if hi + 2 * f + 3 <= 64 else 0   # room for the comparison to read S untruncated
    if not pending:
        s = trunc(s, f)
    inv, k = rsqrt_raw(s, lo=lo, hi=hi, scale=math.sqrt(d), pending=pending)
    # keep 1/sigma at 2f fractional bits: sigma may be large, and the product is well within range
    _, (y,), _ = fused_mul([Factor(centered), Factor(inv, k - f)], [(0, 1)])
    return trunc(y, 2 * f)


def layer_norm(x: AShare, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
               eps: float = 1e-5) -> AShare:
    """LayerNorm with public affine parameters (None: identity)."""
    fp = x.party.fp
    y = normalize(x, eps)
    if weight is not None:
        y = trunc(y.mul_public(fp.encode(weight)))
    if bias is not None:
        y = y.add_public(fp.encode(bias))
    return y
