"""Matrix products: secret x secret by Beaver triples (attention), secret x server weight with the
weight's one-time mask, secret x public locally; each followed by one truncation."""

from __future__ import annotations

from typing import Any

import torch

from privformers.mpc.protocols.beaver import matmul as beaver_matmul
from privformers.mpc.protocols.trunc import trunc
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.tracking import current_module
from privformers.secure.values import as_share, encode_public, is_secret, secret

T = torch.Tensor


def weight_scope() -> str:
    """'lm_head' inside the LM head module, 'linear' elsewhere."""
    return "lm_head" if "lm_head" in current_module() else "linear"


def weight_product(x: SecretTensor, w: ServerParam, op: str) -> SecretTensor:
    """x @ W ('matmul') or x @ W.T ('matmul_t') for a server weight, truncated back to scale f."""
    with x.party.meter.scope(weight_scope()):
        return secret(trunc(w.weight.product(x.share, op)))


@register_op(torch.matmul, T.matmul, T.__matmul__, torch.bmm, T.bmm)
def matmul(a: Any, b: Any) -> SecretTensor:
    if isinstance(b, ServerParam) and isinstance(a, SecretTensor):
        return weight_product(a, b, "matmul")
    if not is_secret(a):
        raise UnsupportedOpError(f"public @ secret matmul (in module {current_module()})")
    party = a.party
    with party.meter.scope("linear"):
        if is_secret(b):
            return secret(beaver_matmul(as_share(a), as_share(b)))
        return secret(trunc(as_share(a).matmul_public(encode_public(party, b))))
