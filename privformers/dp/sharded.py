"""Sharded DP training with FSDP2 (``torch.distributed.fsdp.fully_shard``): exact per-example clipping.

Why FSDP rather than DeepSpeed ZeRO: FSDP2 is part of torch (no second engine to install or to
launch), runs on the CPU with gloo as well as on GPUs with NCCL (so the CPU tests here run the real
thing), and keeps each parameter a ``DTensor`` sharded on dim 0 while leaving the module tree as it
was, so the engine's per-layer hooks see ordinary layers. ZeRO-3 shards the same way; it would add a
dependency and its own launcher for no gain in what clipping needs.

Why clipping stays exact: FSDP shards parameters, not examples. During a layer's forward and
backward its weight is gathered whole, and the activations and output gradients of this rank's
examples are whole tensors on this rank, so the engine's rules compute each example's gradient norm
exactly from local data (no all-reduce of squared norms is needed; that would be needed only if a
layer were split across ranks by tensor parallelism, which is not supported). The clipped sum of a
parameter (``bk`` assembles it from the stored factors, ``default`` from materialised per-example
gradients) is full-size on each rank; ``reduce_to_shard`` sums it over ranks and keeps this rank's
shard (a reduce-scatter), one parameter at a time, so at most one full parameter is held at once
beyond FSDP's own gathered layer. ``ghost`` and ``mixed`` take a second backward pass to the weights,
which FSDP would reduce itself; they are refused (``bk`` uses the same norms in one pass).

Noise: a coordinate lives on exactly one rank, which draws its noise (``add_shard_noise``), so the
sum carries one N(0, sigma^2 C^2) draw per coordinate, as in ``privformers.dp.distributed``.

Collectives: the reduce-scatter runs at every ``virtual_step``, and FSDP gathers weights in every
forward and backward, so every rank must run the same number of physical batches per logical step;
a rank with fewer examples runs a dummy batch with a zero loss (``DistributedPoissonSampler`` tells
every rank the largest share, so the count needs no communication).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributed.tensor import DTensor, Partial, Shard

from privformers.dp.noise import gaussian_range

SHARDED_CLIPPING_MODES = ("default", "bk")


def is_sharded(param: Tensor) -> bool:
    """Whether ``param`` is a DTensor (an FSDP2-sharded parameter)."""
    return isinstance(param, DTensor)


def check_sharded(params: list[Tensor], clipping_mode: str) -> None:
    """Refuse what sharded clipping does not support, naming it: ghost/mixed, and any placement other
    than plain sharding over a 1-D mesh (a replicated dimension, as in HSDP, would need the same noise
    on every replica)."""
    if clipping_mode not in SHARDED_CLIPPING_MODES:
        raise ValueError(f"clipping_mode {clipping_mode!r} takes a second backward pass to the weights, which "
                         f"FSDP reduces itself; with sharded parameters use one of {SHARDED_CLIPPING_MODES} "
                         "(bk computes the same ghost/mixed norms in one pass)")
    for p in params:
        if p.device_mesh.ndim != 1 or not all(isinstance(pl, Shard) for pl in p.placements):
            raise ValueError(f"sharded DP supports parameters sharded over a 1-D mesh (FSDP), got placements "
                             f"{p.placements} on a {p.device_mesh.ndim}-D mesh")


@torch.no_grad()
def reduce_to_shard(full: Tensor, param: DTensor, dtype: torch.dtype) -> DTensor:
    """The sum over ranks of ``full`` (this rank's full-size clipped sum for ``param``), sharded like
    ``param``: one reduce-scatter of ``full.numel()`` values in ``dtype``."""
    partial = DTensor.from_local(full.to(dtype), param.device_mesh, [Partial()] * param.device_mesh.ndim,
                                 run_check=False, shape=param.shape, stride=param.stride())
    return partial.redistribute(param.device_mesh, param.placements)


def zeros_shard(param: DTensor, dtype: torch.dtype) -> DTensor:
    """A zero DTensor sharded like ``param`` (no communication)."""
    return torch.zeros_like(param, dtype=dtype)


@torch.no_grad()
def add_shard_noise(shards: list[DTensor], std: float) -> None:
    """Add N(0, std^2) to every local coordinate of ``shards``, in place: one draw over the local
    shards, from fresh secure streams (cost: this rank's coordinates only)."""
    locals_ = [s.to_local() for s in shards]
    sizes = [t.numel() for t in locals_]
    total = sum(sizes)
    if std == 0 or total == 0:
        return
    dtype = torch.promote_types(torch.float32, locals_[0].dtype)
    noise = gaussian_range(sizes, 0, total, std, dtype)
    first = 0
    for t, n in zip(locals_, sizes):
        t.add_(noise[first:first + n].view(t.shape).to(device=t.device, dtype=t.dtype))
        first += n


def shard_model(model: nn.Module, layer_types: tuple[type, ...] | None = None) -> nn.Module:
    """FSDP2-shard ``model`` in place: each decoder/encoder layer, then the root (the usual recipe).

    ``layer_types`` defaults to the model's ``_no_split_modules`` classes (Hugging Face models name
    their transformer blocks there, e.g. ``LlamaDecoderLayer``). The process group must be
    initialised; the mesh is all ranks, on the GPU with NCCL or on the CPU with gloo."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from privformers.dp.distributed import collective_device, rank_and_world

    device = collective_device()
    mesh = init_device_mesh(device.type, (rank_and_world()[1],))
    if layer_types is None:
        names = set(getattr(model, "_no_split_modules", None) or ())
        layers = [m for m in model.modules() if type(m).__name__ in names]
    else:
        layers = [m for m in model.modules() if isinstance(m, layer_types)]
    for layer in layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model
