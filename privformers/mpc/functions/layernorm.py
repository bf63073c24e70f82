"""LayerNorm over the last dimension: mean, variance, rsqrt, then the affine map.

Domain: variance + eps in [2^-12, 2^16]. The affine weights are public to the computing code
here (plain tensors) or server-held (``ServerWeight``, used by the secure runtime).
"""

from __future__ import annotations

import torch

from privformers.mpc.functions.rsqrt import rsqrt
from privformers.mpc.protocols.beaver import mul, square
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare


def normalize(x: AShare, eps: float = 1e-5) -> AShare:
    """(x - mean) / sqrt(var + eps) over the last dimension."""
    fp = x.party.fp
    d = x.shape[-1]
    # 1/d at f + 16 bits: at f bits alone, 1/768 is off by 0.4%, which shows in every output
    extra = 16
    inv_d = round(2 ** (fp.frac_bits + extra) / d)
    mean = trunc(x.sum(-1, keepdim=True).mul_public(inv_d), fp.frac_bits + extra)
    centered = x - mean
    var = trunc(square(centered).sum(-1, keepdim=True).mul_public(inv_d), fp.frac_bits + extra)
    inv_std = rsqrt(var.add_public(int(fp.encode(eps))))
    return mul(centered, inv_std)


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
