"""Elementwise arithmetic: sums are local; products with secrets use the engine's protocols.

Adding a public additive attention mask (entries near the float minimum) records the masked
positions as a public keep-mask on the secret instead of adding huge values: softmax applies it.

Linear maps with public coefficients keep a pending truncation pending (``SecretTensor.pending``):
a sum or difference of secrets (the less pending one shifted up, locally), a negation, and a product
with a public real of magnitude at most 1 (its encoding adds f pending bits), while the scale stays
within ``PENDING_SCALE_BITS`` (48: values below 2^14, the domain LayerNorm and RMSNorm state anyway).
A residual stream therefore stays untruncated from one norm to the next, which truncates it in its
own first round. Rotary position embeddings (q cos + rotate_half(q) sin, cos and sin public)
are such a map, so a query or key projection reaches its consumer with one truncation to do.
A product of two secrets truncates both factors in its own opening (``fused_mul``) and leaves the
product's truncation pending: one round, where truncate, multiply, truncate took up to four.
"""

from __future__ import annotations

from typing import Any

import torch

from privformers.mpc.functions.rsqrt import rsqrt
from privformers.mpc.protocols.beaver import mul as beaver_mul
from privformers.mpc.protocols.beaver import square
from privformers.mpc.protocols.fused import Factor, fused_mul
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.tracking import current_module, default_scope
from privformers.secure.values import MASK_BELOW, as_share, encode_public, is_secret, mask_of, secret

T = torch.Tensor
EXTRA_BITS = 16  # 1/n for means at f + 16 bits (as in layer_norm)
PENDING_SCALE_BITS = 48  # public products keep a truncation pending up to this scale: values below 2^14


def _pending_sum(a: Any, b: Any) -> bool:
    """Two secrets, at least one pending, and room to keep their sum pending at the larger scale."""
    return (isinstance(a, SecretTensor) and isinstance(b, SecretTensor) and (a.pending or b.pending)
            and a.party.fp.frac_bits + max(a.pending, b.pending) <= PENDING_SCALE_BITS)


def _add_public(x: SecretTensor | ServerParam, value: Any) -> SecretTensor:
    s, mask = as_share(x), mask_of(x)
    if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() and value.min() < MASK_BELOW:
        keep = value > MASK_BELOW
        value = value.masked_fill(~keep, 0.0)
        mask = keep if mask is None else mask & keep
    return secret(s.add_public(encode_public(s.party, value)), mask)


@register_op(torch.add, T.add, T.__add__, T.__radd__, T.__iadd__, T.add_)
def add(a: Any, b: Any, alpha: float = 1) -> SecretTensor:
    """a + alpha b: local (a public addend is added by the client; a server weight by the server)."""
    if alpha != 1:
        b = mul(b, alpha)
    if isinstance(b, SecretTensor) and b.pending and isinstance(a, ServerParam):
        a, b = b, a
    if isinstance(a, SecretTensor) and a.pending and isinstance(b, ServerParam):   # a bias: keep a untruncated
        return secret(a.raw + as_share(b).lshift(a.pending), mask_of(a), a.pending, a.pending_scope)
    if _pending_sum(a, b):   # a residual sum: aligned locally, truncated once by its reader
        k = max(a.pending, b.pending)
        scope = a.pending_scope if a.pending == k else b.pending_scope
        return secret(a.raw.lshift(k - a.pending) + b.raw.lshift(k - b.pending), mask_of(a, b), k, scope)
    if is_secret(a) and is_secret(b):
        return secret(as_share(a) + as_share(b), mask_of(a, b))
    return _add_public(a, b) if is_secret(a) else _add_public(b, a)


@register_op(torch.neg, T.neg, T.__neg__)
def neg(x: Any) -> SecretTensor:
    """-x, local; a pending truncation stays pending."""
    if isinstance(x, SecretTensor) and x.pending:
        return secret(-x.raw, mask_of(x), x.pending, x.pending_scope)
    return secret(-as_share(x), mask_of(x))


@register_op(torch.sub, T.sub, T.__sub__, T.__isub__)
def sub(a: Any, b: Any, alpha: float = 1) -> SecretTensor:
    return add(a, neg(b) if is_secret(b) else -b, alpha)


@register_op(T.__rsub__, torch.rsub)
def rsub(a: Any, b: Any) -> SecretTensor:
    return add(neg(a), b)


def _keeps_pending(x: SecretTensor, value: Any) -> bool:
    """A product with this public real can stay untruncated: |value| <= 1 and room in the ring."""
    if isinstance(value, bool) or not isinstance(value, (float, torch.Tensor)):
        return False
    if isinstance(value, torch.Tensor) and (not value.is_floating_point() or not value.numel()):
        return False
    f = x.party.fp.frac_bits
    big = float(value.abs().max()) if isinstance(value, torch.Tensor) else abs(value)
    return big <= 1 and f + x.pending + f <= PENDING_SCALE_BITS


def _mul_public(s: AShare, value: Any) -> AShare:
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and not value.is_floating_point()):
        return s.mul_public(value.to(torch.int64) if isinstance(value, torch.Tensor) else int(value))
    if isinstance(value, (int, float)) and float(value).is_integer():
        return s.mul_public(int(value))
    return trunc(s.mul_public(encode_public(s.party, value)))


@register_op(torch.mul, T.mul, T.__mul__, T.__rmul__, T.__imul__, T.mul_, torch.multiply)
def mul(a: Any, b: Any) -> SecretTensor:
    """a * b: by a public value locally (a real of magnitude <= 1 keeps the truncation pending, others
    truncate), by a server weight with its mask, two secrets in one fused round (product pending)."""
    if not is_secret(a):
        a, b = b, a
    if isinstance(a, SecretTensor) and isinstance(b, (int, float)) and b == 1:
        return a   # x * 1 (a folded scaling): nothing to compute, a pending truncation stays pending
    scope = default_scope()
    with a.party.meter.scope(scope):
        if isinstance(b, ServerParam) and isinstance(a, SecretTensor):
            return secret(trunc(b.weight.product(a.share, "mul")), mask_of(a))
        if isinstance(a, ServerParam) and isinstance(b, SecretTensor):
            return secret(trunc(a.weight.product(b.share, "mul")), mask_of(b))
        if is_secret(b):
            fa = Factor(a.raw, a.pending) if isinstance(a, SecretTensor) else Factor(as_share(a))
            fb = Factor(b.raw, b.pending) if isinstance(b, SecretTensor) else Factor(as_share(b))
            _, (z,), _ = fused_mul([fa, fb], [(0, 1)])
            return secret(z, mask_of(a, b), a.party.fp.frac_bits, scope)
        if isinstance(a, SecretTensor) and _keeps_pending(a, b):
            return secret(a.raw.mul_public(encode_public(a.party, b)), mask_of(a), a.pending + a.party.fp.frac_bits,
                          a.pending_scope if a.pending else scope)
        return secret(_mul_public(as_share(a), b), mask_of(a))


@register_op(torch.div, T.div, T.__truediv__, T.__itruediv__, torch.true_divide)
def div(a: Any, b: Any) -> SecretTensor:
    """a / b for a public divisor."""
    if is_secret(b):
        raise UnsupportedOpError(f"division by a secret (in module {current_module()})")
    return mul(a, 1.0 / b)


@register_op(torch.pow, T.pow, T.__pow__)
def pow_(x: Any, e: float) -> SecretTensor:
    """x^2 (one square) or x^3 (square and product)."""
    with x.party.meter.scope(default_scope()):
        if e == 1:
            return x
        if e == 2:
            return secret(square(as_share(x)))
        if e == 3:
            s = as_share(x)
            return secret(beaver_mul(square(s), s))
    raise UnsupportedOpError(f"torch.pow with exponent {e} (in module {current_module()})")


@register_op(torch.rsqrt, T.rsqrt)
def rsqrt_(x: Any) -> SecretTensor:
    """1/sqrt(x) for x in [2^-12, 2^16] (the engine's domain)."""
    with x.party.meter.scope(default_scope()):
        return secret(rsqrt(as_share(x)))


@register_op(torch.sum, T.sum)
def sum_(x: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> SecretTensor:
    s = as_share(x)
    if isinstance(dim, (tuple, list)):
        data = s.data.sum(tuple(dim), keepdim=keepdim)
        return secret(AShare(s.party, data))
    return secret(s.sum(dim, keepdim))


@register_op(torch.mean, T.mean)
def mean(x: Any, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> SecretTensor:
    """Sum, then 1/n at f + 16 fractional bits and one truncation."""
    s = as_share(x)
    dims = range(s.dim()) if dim is None else ([dim] if isinstance(dim, int) else dim)
    n = 1
    for d in dims:
        n *= s.shape[d]
    total = s.data.sum(tuple(dims), keepdim=keepdim)
    f = s.party.fp.frac_bits
    with s.party.meter.scope(default_scope()):
        return secret(trunc(AShare(s.party, total).mul_public(round(2 ** (f + EXTRA_BITS) / n)), f + EXTRA_BITS))
