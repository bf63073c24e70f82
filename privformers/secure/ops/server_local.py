"""Ops on server weights and public values only: the server computes them in plaintext.

The result is a secret of the server: its share is the value, the client's share is zero.
Nothing is sent. Example: position embeddings (public ids, server table), T5's relative bias.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_map

from privformers.mpc.party import SERVER
from privformers.secure.registry import UnsupportedOpError, op_name, register_server_local
from privformers.secure.tensor import ServerParam, _run_plain
from privformers.secure.tracking import current_module
from privformers.secure.values import party_of, secret, server_share


def _meta(v: Any) -> Any:
    return torch.zeros(v.shape, dtype=v.dtype) if isinstance(v, torch.Tensor) else v


def _plain(v: Any) -> Any:
    return v.plain if isinstance(v, ServerParam) else v


@register_server_local
def server_local(func: Any, args: tuple, kwargs: dict) -> Any:
    """Evaluate func on the server's plaintext weights; other parties get zero shares of that shape (also what
    ``tensor.dispatch`` runs for an op with no implementation of its own on server weights and public values)."""
    party = party_of(args, kwargs)
    on_server = party.role == SERVER and not party.symbolic
    a, k = tree_map(_plain if on_server else _meta, (args, kwargs))
    out = _run_plain(func, a, k)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(o, torch.Tensor) and o.is_floating_point() for o in outs):
        raise UnsupportedOpError(f"{op_name(func)} on a server weight gives a non-float result "
                                 f"(in module {current_module()})")
    wrapped = [secret(server_share(party, o if on_server else None, tuple(o.shape))) for o in outs]
    return type(out)(wrapped) if isinstance(out, (tuple, list)) else wrapped[0]
