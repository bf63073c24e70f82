"""Powers and polynomials with public coefficients, in logarithmic multiplicative depth."""

from __future__ import annotations

from collections.abc import Sequence

from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare, stack


def powers(x: AShare, degree: int) -> list[AShare]:
    """[x, x^2, ..., x^degree]; each doubling of the degree costs one batched product (2 rounds)."""
    pw = [x]
    while len(pw) < degree:
        top = pw[-1]
        k = len(pw)
        need = min(k, degree - k)  # x^(k+1) .. x^(k+need) = x^k * x^1..x^need
        lhs = stack([top] * need)
        rhs = stack(pw[:need])
        prods = mul(lhs, rhs)
        pw.extend(prods[i] for i in range(need))
    return pw


def polynomial(x: AShare, coeffs: Sequence[float]) -> AShare:
    """sum_k coeffs[k] x^k for public real coefficients (one truncation for the whole sum)."""
    fp = x.party.fp
    pw = powers(x, len(coeffs) - 1) if len(coeffs) > 1 else []
    acc = None
    for c, p in zip(coeffs[1:], pw):
        term = p.mul_public(int(fp.encode(c)))
        acc = term if acc is None else acc + term
    out = trunc(acc) if acc is not None else x.mul_public(0)
    return out.add_public(int(fp.encode(coeffs[0])))
