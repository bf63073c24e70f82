"""MPCFormer's Quad GeLU under MPC: 0.125 x^2 + 0.25 x + 0.5 as one square and one truncation.

(x^2 + 2x) / 8 is formed at scale 2f (the untruncated square plus x shifted up by f + 1 bits)
and truncated once by f + 3 bits; the constant is added by the client. Cost: 2 rounds. An input
whose truncation is still pending (an FFN projection) is truncated and squared in one fused round
(``trunc_powers``), so the projection's own truncation round and opening disappear.
"""

from __future__ import annotations

from privformers.approx.quad_gelu import A0, quad_gelu
from privformers.mpc.protocols.beaver import square
from privformers.mpc.protocols.fused import trunc_powers
from privformers.mpc.protocols.trunc import trunc
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor
from privformers.secure.values import as_share, secret


@register_op(quad_gelu)
def secure_quad_gelu(x: SecretTensor) -> SecretTensor:
    """0.125 x^2 + 0.25 x + 0.5 (coefficients as in ``privformers.approx.quad_gelu``)."""
    fp = x.party.fp
    f = fp.frac_bits
    with x.party.meter.scope("activation"):
        if isinstance(x, SecretTensor) and x.pending:
            s, (sq,) = trunc_powers(x.raw, x.pending, 2)
        else:
            s = as_share(x)
            sq = square(s, truncate=False)
        y = trunc(sq + s.lshift(f + 1), f + 3)
        return secret(y.add_public(int(fp.encode(A0))))
