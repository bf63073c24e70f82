"""Embedding lookups. The client's token ids: a client-owned secret one-hot times the server's
table, mod 2^32 and then lifted (``ServerWeight.onehot_rows``; an integer one-hot needs no
truncation). Public ids (positions, token types): the server reads its own rows, locally."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from privformers.mpc.party import CLIENT
from privformers.secure.ops.server_local import server_local
from privformers.secure.registry import UnsupportedOpError, register_op
from privformers.secure.tensor import PrivateIds, ServerParam, _run_plain
from privformers.secure.tracking import current_module
from privformers.secure.values import secret


@register_op(F.embedding)
def embedding(ids: torch.Tensor, weight: ServerParam, *args: Any, **kwargs: Any) -> Any:
    """Rows of a server-held table, for the client's secret ids or for public ids."""
    if not isinstance(weight, ServerParam):
        raise UnsupportedOpError(f"embedding of a non-weight table (in module {current_module()})")
    party = weight.party
    with party.meter.scope("embedding"):
        if not isinstance(ids, PrivateIds):
            return server_local(F.embedding, (ids, weight, *args), kwargs)
        shape = (*ids.shape, weight.shape[0])
        plain_ids = None
        if party.role == CLIENT and not party.symbolic:
            plain_ids = _run_plain(torch.Tensor.as_subclass, (ids, torch.Tensor), {})
        return secret(weight.weight.onehot_rows(plain_ids, shape))
