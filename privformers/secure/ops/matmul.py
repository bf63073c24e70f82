"""Matrix products: secret x secret by Beaver triples (attention), secret x server weight with the
weight's one-time mask, secret x public locally; each followed by one truncation."""

from __future__ import annotations

from typing import Any

import torch

from privformers.mpc.protocols.beaver import matmul as beaver_matmul
from privformers.mpc.protocols.held import matmul_held
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.weights import SharedInput
from privformers.mpc.shares import AShare
from privformers.secure.ops.elementwise import PENDING_SCALE_BITS
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.tracking import current_module
from privformers.secure.values import as_share, encode_public, is_secret, secret

T = torch.Tensor


def weight_scope() -> str:
    """'lm_head' inside the LM head module, 'linear' elsewhere."""
    return "lm_head" if "lm_head" in current_module() else "linear"


def weight_product(x: SecretTensor, w: ServerParam, op: str) -> SecretTensor:
    """x @ W ('matmul') or x @ W.T ('matmul_t') for a server weight; its truncation back to scale f is
    left pending: it runs when the result is read, or folds into a secret matmul's (``matmul``).

    An input still pending goes in as it is while the product's scale stays within 48 bits (attention's
    output, probs @ V, into the output projection: one truncation round fewer; the output is pending by
    both). Products with one input share its mask (``SharedInput``): one message for a layer's query,
    key and value projections."""
    scope = weight_scope()
    f = x.party.fp.frac_bits
    with x.party.meter.scope(scope):
        if x.pending and 2 * f + x.pending <= PENDING_SCALE_BITS:
            src, pending = x.raw, x.pending + f
        else:
            src, pending = x.share, f
        y = w.weight.product(src, op, shared=_shared_input(x, src))
    return secret(y, pending=pending, scope=scope)


def _shared_input(x: SecretTensor, src: AShare) -> SharedInput:
    """The mask handle of this input's share (a new one if the share changed, e.g. was truncated since)."""
    held = getattr(x, "_shared_input", None)
    if held is None or held[0] is not src.data:
        held = (src.data, SharedInput())
        x._shared_input = held
    return held[1]


def _absorbs_pending(a: SecretTensor, b: SecretTensor) -> bool:
    """probs @ V with V still untruncated: one truncation for both, if the 3f-scale result fits.

    Only the right operand's pending bits fold in, and only when the left has none (as for
    attention probabilities, whose rows are convex weights: the result is bounded by |V| < 2^14)."""
    f = a.party.fp.frac_bits
    return a.pending == 0 and 0 < b.pending <= f and 3 * f + 14 <= 62


@register_op(torch.matmul, T.matmul, T.__matmul__, torch.bmm, T.bmm)
def matmul(a: Any, b: Any) -> SecretTensor:
    if isinstance(b, ServerParam) and isinstance(a, SecretTensor):
        return weight_product(a, b, "matmul")
    if not is_secret(a):
        raise UnsupportedOpError(f"public @ secret matmul (in module {current_module()})")
    party = a.party
    with party.meter.scope("linear"):
        if isinstance(a, SecretTensor) and isinstance(b, SecretTensor) and b.held is not None:
            # the KV cache's keys or values: only their new rows are opened (``protocols/held.py``)
            z = matmul_held(a.share, b.held)
            return secret(z, pending=party.fp.frac_bits + b.held.base.scale, scope="linear")
        if isinstance(a, SecretTensor) and isinstance(b, SecretTensor) and _absorbs_pending(a, b):
            z = beaver_matmul(a.share, b.raw, truncate=False)
            return secret(trunc(z, party.fp.frac_bits + b.pending))
        if is_secret(b):   # attention scores: truncation pending (2Quad folds it into its square)
            z = beaver_matmul(as_share(a), as_share(b), truncate=False)
            return secret(z, pending=party.fp.frac_bits, scope="linear")
        return secret(trunc(as_share(a).matmul_public(encode_public(party, b))))
