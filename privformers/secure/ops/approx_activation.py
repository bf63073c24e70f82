"""MPCFormer's Quad GeLU under MPC: 0.125 x^2 + 0.25 x + 0.5 as one square and one truncation.

(x^2 + 2x) / 8 is formed at scale 2f (the untruncated square plus x shifted up by f + 1 bits)
and truncated once by f + 3 bits; the constant is added by the client. Cost: 2 rounds.
"""

from __future__ import annotations

from privformers.approx.quad_gelu import A0, quad_gelu
from privformers.mpc.protocols.beaver import square
from privformers.mpc.protocols.trunc import trunc
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import as_share, secret


@register_op(quad_gelu)
def secure_quad_gelu(x: SecretTensor) -> SecretTensor:
    """0.125 x^2 + 0.25 x + 0.5 (coefficients as in ``privformers.approx.quad_gelu``)."""
    s = as_share(x)
    fp = s.party.fp
    f = fp.frac_bits
    with s.party.meter.scope("activation"):
        y = trunc(square(s, truncate=False) + s.lshift(f + 1), f + 3)
        return secret(y.add_public(int(fp.encode(A0))))
