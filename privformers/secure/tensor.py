"""Tensor subclasses that route torch calls on secrets to the op registry.

SecretTensor: one party's share of a secret fixed-point tensor (an ``AShare``), plus an
optional public keep-mask collected from additive attention masks (applied by softmax).
ServerParam: a server-held weight: a ``ServerWeight`` (masked once) and, on the server only,
the plaintext. PrivateIds: the client's token ids (placeholder zeros on the other parties).
All three carry no storage the model could read: every op goes through ``dispatch``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_flatten

from privformers.mpc.party import Party
from privformers.mpc.protocols.weights import ServerWeight
from privformers.mpc.shares import AShare
from privformers.secure import tracking
from privformers.secure.registry import OPS, SERVER_LOCAL, UnsupportedOpError, op_name

_GETTERS = ("shape", "dtype", "device", "ndim", "is_cuda", "is_meta", "requires_grad", "layout", "is_sparse",
            "is_quantized", "is_nested", "grad_fn", "is_mps", "is_xpu", "names")
PASSTHROUGH = {getattr(torch.Tensor, g).__get__ for g in _GETTERS if hasattr(torch.Tensor, g)} | {
    torch.Tensor.size, torch.Tensor.dim, torch.Tensor.numel, torch.Tensor.__len__, torch.Tensor.ndimension,
    torch.Tensor.is_floating_point, torch.Tensor.is_complex, torch.Tensor.element_size, torch.Tensor.nelement,
    torch.Tensor.get_device, torch.Tensor.is_contiguous,
}


def _run_plain(func: Any, args: tuple, kwargs: dict) -> Any:
    with torch._C.DisableTorchFunctionSubclass():
        return func(*args, **kwargs)


def _no_storage(func: Any) -> Any:
    raise UnsupportedOpError(f"{func} reached the (empty) storage of a secret (in module {tracking.current_module()})")


class _Routed(torch.Tensor):
    """A storage-less tensor whose every torch call goes to the secure op registry."""

    @classmethod
    def __torch_function__(cls, func: Any, types: tuple, args: tuple = (), kwargs: dict | None = None) -> Any:
        return dispatch(func, args, kwargs or {})

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: tuple, args: tuple = (), kwargs: dict | None = None) -> Any:
        return _no_storage(func)


class SecretTensor(_Routed):
    """A secret float tensor held as additive shares (this party's share in ``.share``).

    ``pending`` > 0: the share is still at 2^pending times the working scale (an untruncated product).
    Reading ``.share`` truncates it then, once, charged to the op class that made it; ops that can fold
    the truncation into their own (a secret matmul) read ``.raw`` instead. ``held``: set on a KV
    cache's keys and values (and views of them), whose rows are masked once, so products with them
    open only new rows (``secure/ops/matmul.py``)."""

    mask: torch.Tensor | None
    pending: int

    @staticmethod
    def __new__(cls, share: AShare, mask: torch.Tensor | None = None, pending: int = 0,
                pending_scope: str = "other") -> SecretTensor:
        t = torch.Tensor._make_wrapper_subclass(cls, tuple(share.shape), dtype=torch.float32, device="cpu")
        t._share, t.mask, t.pending, t.pending_scope = share, mask, pending, pending_scope
        t.held = None   # rows masked once (``mpc/protocols/held.py``): a KV cache's keys or values, or a view of them
        return t

    @property
    def share(self) -> AShare:
        """This party's share at the working scale (a pending truncation runs now)."""
        if self.pending:
            from privformers.mpc.protocols.trunc import trunc

            with self._share.party.meter.scope(self.pending_scope):
                self._share = trunc(self._share, self.pending)
            self.pending = 0
        return self._share

    @property
    def raw(self) -> AShare:
        """This party's share as it is, at 2^pending times the working scale."""
        return self._share

    @property
    def party(self) -> Party:
        return self._share.party

    def __repr__(self) -> str:  # noqa: D105
        return f"SecretTensor({self._share.party.role}, shape={tuple(self.shape)}, pending={self.pending})"


class ServerParam(_Routed):
    """A model weight the server holds: masked once for products; plaintext on the server only.

    ``plain`` on the server: the tensor given, or, when none was kept (a matrix: its float64 fixed-point copy
    for products is all the server holds), that copy decoded; encoding it again gives the same ring values."""

    weight: ServerWeight
    param_name: str

    @staticmethod
    def __new__(cls, weight: ServerWeight, plain: torch.Tensor | None, name: str, dtype: torch.dtype) -> ServerParam:
        t = torch.Tensor._make_wrapper_subclass(cls, weight.shape, dtype=dtype, device="cpu")
        t.weight, t._plain, t.param_name = weight, plain, name
        return t

    @property
    def plain(self) -> torch.Tensor | None:
        if self._plain is not None or self.weight.plain is None:
            return self._plain
        return self.weight.plain.float.cpu() / float(1 << self.weight.frac_bits)

    @property
    def party(self) -> Party:
        return self.weight.party

    def __repr__(self) -> str:  # noqa: D105
        return f"ServerParam({self.param_name!r}, shape={tuple(self.shape)})"


IDS_OPS = {torch.Tensor.view, torch.Tensor.reshape, torch.Tensor.unsqueeze, torch.Tensor.contiguous,
           torch.Tensor.to, torch.Tensor.long}


class PrivateIds(torch.Tensor):
    """The client's token ids: real on the client, zeros elsewhere; only reshaped and embedded."""

    @classmethod
    def __torch_function__(cls, func: Any, types: tuple, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in PASSTHROUGH:
            return _run_plain(func, args, kwargs)
        if func in IDS_OPS:
            out = _run_plain(func, args, kwargs)
            return out.as_subclass(PrivateIds) if isinstance(out, torch.Tensor) else out
        if func is torch.nn.functional.embedding:
            return dispatch(func, args, kwargs)
        raise UnsupportedOpError(f"{op_name(func)} would compute on the client's secret token ids "
                                 f"(in module {tracking.current_module()})")


def dispatch(func: Any, args: tuple, kwargs: dict) -> Any:
    """Run the registered secure implementation of func; metadata queries run as usual."""
    if func in PASSTHROUGH:
        return _run_plain(func, args, kwargs)
    impl = OPS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    leaves, _ = tree_flatten((args, kwargs))
    on_weights = any(isinstance(v, ServerParam) for v in leaves)
    if on_weights and SERVER_LOCAL and not any(isinstance(v, SecretTensor) for v in leaves):
        return SERVER_LOCAL[0](func, args, kwargs)   # ops/server_local.py: the server computes it in plaintext
    raise UnsupportedOpError(f"no secure implementation of {op_name(func)} (in module {tracking.current_module()})")
