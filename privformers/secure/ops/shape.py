"""Shape ops (views, slicing, concatenation, dtype casts, dropout in eval mode): local, no communication."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from privformers.mpc.shares import AShare
from privformers.secure.ops.server_local import server_local
from privformers.secure.registry import register_op
from privformers.secure.tensor import SecretTensor, ServerParam
from privformers.secure.values import as_share, secret

T = torch.Tensor

RESHAPES = [T.view, T.reshape, torch.reshape, T.transpose, torch.transpose, T.permute, torch.permute, T.unsqueeze,
            torch.unsqueeze, T.squeeze, torch.squeeze, T.expand, T.flatten, torch.flatten, T.__getitem__,
            T.split, torch.split, T.chunk, torch.chunk, T.t, T.narrow, T.select, T.unbind, torch.unbind,
            T.expand_as, T.view_as, T.reshape_as, T.repeat, T.contiguous, T.clone]


# single-output views keep a pending truncation (a value projection reaches its matmul untruncated;
# rotary's rotate_half slices a query, negates a half and concatenates, all before its one truncation);
# ops that give several pieces or copy truncate first, once for all pieces
KEEPS_PENDING = {T.view, T.reshape, torch.reshape, T.transpose, torch.transpose, T.permute, torch.permute,
                 T.unsqueeze, torch.unsqueeze, T.squeeze, torch.squeeze, T.flatten, torch.flatten, T.t,
                 T.view_as, T.reshape_as, T.contiguous, T.__getitem__}


# single-output views a held tensor keeps through (a transpose for K^T; expand and reshape repeat grouped
# KV heads): local, linear, so its rows' masks follow the same op
HELD_VIEWS = KEEPS_PENDING | {T.expand, T.__getitem__, T.narrow, T.select, T.expand_as}


def _wrap(out: Any, like: SecretTensor, mask_out: Any, pending: int = 0) -> Any:
    if isinstance(out, (tuple, list)):
        masks = mask_out if mask_out is not None else [None] * len(out)
        return type(out)(secret(AShare(like.party, o), m) for o, m in zip(out, masks))
    return secret(AShare(like.party, out), mask_out, pending, like.pending_scope if pending else "other")


def reshape_like(func: Any, x: SecretTensor | ServerParam, *args: Any, **kwargs: Any) -> Any:
    """Apply the view op to this party's share (and to the pending attention mask). A view of held rows
    (a KV cache's keys or values) stays held, at the rows' scale: the view is replayed on their masks."""
    if isinstance(x, ServerParam):
        return server_local(func, (x, *args), kwargs)
    if x.held is not None and func in HELD_VIEWS and not any(isinstance(a, SecretTensor) for a in args):
        with torch._C.DisableTorchFunctionSubclass():
            out = func(x.raw.data, *args, **kwargs)
            m = None if x.mask is None else func(x.mask.expand(x.shape), *args, **kwargs)
        y = _wrap(out, x, m, x.pending)
        y.held = x.held.then(func, args, kwargs)
        return y
    args = tuple(a.share.data if isinstance(a, SecretTensor) else a for a in args)  # expand_as, view_as
    keep = func in KEEPS_PENDING
    data = x.raw.data if keep else x.share.data
    with torch._C.DisableTorchFunctionSubclass():
        out = func(data, *args, **kwargs)
        m = None if x.mask is None else func(x.mask.expand(x.shape), *args, **kwargs)
    return _wrap(out, x, m, x.pending if keep else 0)


for _f in RESHAPES:
    register_op(_f)(lambda *a, _f=_f, **k: reshape_like(_f, *a, **k))


@register_op(T.to, T.type, T.float, T.double, T.type_as, T.detach, T.requires_grad_, T.cpu)
def cast(x: SecretTensor, *args: Any, **kwargs: Any) -> SecretTensor:
    """Dtype and device casts leave a fixed-point secret as it is."""
    return x


@register_op(F.dropout)
def dropout(x: SecretTensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> SecretTensor:
    """Dropout in evaluation mode is the identity (training under MPC is not supported)."""
    if training:
        raise NotImplementedError("dropout in training mode: call model.eval()")
    return x


def _join(op: Any, tensors: list, dim: int) -> SecretTensor:
    """Concatenate or stack shares; secrets all pending by the same bits stay pending (local either way)."""
    first = tensors[0]
    if (isinstance(first, SecretTensor) and first.pending
            and all(isinstance(t, SecretTensor) and t.pending == first.pending for t in tensors)):
        with torch._C.DisableTorchFunctionSubclass():
            data = op([t.raw.data for t in tensors], dim)
        return secret(AShare(first.party, data), pending=first.pending, scope=first.pending_scope)
    shares = [as_share(t) for t in tensors]
    with torch._C.DisableTorchFunctionSubclass():
        data = op([s.data for s in shares], dim)
    return secret(AShare(shares[0].party, data))


@register_op(torch.cat, torch.concat)
def cat(tensors: list, dim: int = 0) -> SecretTensor:
    """Concatenate secrets (server weights among them as server-only shares)."""
    return _join(torch.cat, tensors, dim)


@register_op(torch.stack)
def stack(tensors: list, dim: int = 0) -> SecretTensor:
    """Stack secrets."""
    return _join(torch.stack, tensors, dim)
