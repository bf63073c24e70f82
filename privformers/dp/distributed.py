"""Data-parallel DP over ``torch.distributed``: every rank clips its own examples, one noisy sum for all.

The logical batch of a step is one Poisson sample of the whole dataset (``DistributedPoissonSampler``),
split over the ranks. Each rank runs forward and backward on its share and computes the clipped
per-example gradient sums locally: per-example norms need only that example's activations and
output gradients, which live on the rank that processed it, so clipping is exact in every mode. Then,
once per logical step, ``noisy_all_reduce`` sums the ranks' clipped sums and adds the Gaussian noise.

Noise: each coordinate's noise is drawn exactly once, by the rank that owns it. The flattened
gradient is cut into ``world`` contiguous ranges; rank ``r`` draws N(0, sigma^2 C^2) for range ``r``
from its own fresh AES-CTR streams and adds it to its local sum before the all-reduce, the other
ranks add nothing there. The all-reduced sum therefore carries exactly one N(0, sigma^2 C^2) draw
per coordinate, the mechanism the accountant assumes (not ``world`` draws, nor a variance split into
``world`` parts that must add up in floating point). Why not rank 0 alone: drawing cryptographic
normals costs about 25 ns per value on a core, so spread over the ranks a step's noise costs
``1/world`` of it on each, and a sharded model (FSDP, ``privformers.dp.sharded``) needs exactly this
split, since a rank holds only its shard. The noise goes into the same all-reduce as the sums, so no
extra collective is needed. (All ranks are the trainer: a rank knows its own range's noise, as rank 0
would know all of it if it drew everything; what DP hides is from the released model.)

A rank whose share of the batch is empty still takes part: its sum is zeros. Every rank ends the
step with the same noisy sum, so replicas stay equal; ``broadcast_module`` makes them start equal.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor, nn

from privformers.dp.noise import gaussian_range
from privformers.mpc import prg


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of the default process group, or (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_distributed() -> bool:
    """Whether a process group with more than one rank is initialised."""
    return rank_and_world()[1] > 1


def launched_world() -> int:
    """The world size a launcher (torchrun, ``accelerate launch``) put in the environment (1 if none)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_from_env() -> torch.device:
    """Join the job a launcher started (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` in the environment).

    NCCL with one GPU per local rank where CUDA is available, gloo on the CPU otherwise. Returns the
    device this rank computes on. A no-op (returning the CPU or the current GPU) when already joined."""
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if dist.get_backend() == "nccl":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def collective_device() -> torch.device:
    """Where tensors handed to collectives must live: the current GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def shared_key() -> bytes:
    """A 32-byte key drawn by rank 0 from os.urandom and broadcast to every rank (one collective)."""
    rank, world = rank_and_world()
    if world == 1:
        return prg.new_seed()
    buffer = torch.zeros(prg.SEED_BYTES, dtype=torch.uint8, device=collective_device())
    if rank == 0:
        buffer.copy_(torch.frombuffer(bytearray(prg.new_seed()), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return bytes(buffer.cpu().tolist())


def owned_range(total: int, rank: int, world: int) -> tuple[int, int]:
    """The coordinates ``[start, stop)`` of a ``total``-value draw whose noise rank ``rank`` draws."""
    return total * rank // world, total * (rank + 1) // world


@torch.no_grad()
def broadcast_module(module: nn.Module) -> None:
    """Give every rank rank 0's parameters and buffers (as DDP does when it wraps a model); sharded
    (DTensor) parameters are left alone: each coordinate of those lives on one rank only."""
    from torch.distributed.tensor import DTensor

    for tensor in list(module.parameters()) + list(module.buffers()):
        if isinstance(tensor, DTensor):
            continue
        buffer = tensor.detach().to(collective_device())
        dist.broadcast(buffer, src=0)
        if buffer.data_ptr() != tensor.data_ptr():
            tensor.copy_(buffer)


def reduction_dtype(tensors: list[Tensor]) -> torch.dtype:
    """The widest of the tensors' dtypes, at least float32 (sums of many bf16 values lose too much)."""
    dtype = torch.float32
    for t in tensors:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


@torch.no_grad()
def noisy_all_reduce(totals: list[Tensor], std: float) -> list[Tensor]:
    """The sum over ranks of ``totals`` plus one N(0, std^2) draw per coordinate, on every rank.

    ``totals`` are this rank's clipped per-example gradient sums, one per trainable parameter, in the
    same order and shapes on every rank. They are flattened into one buffer (one collective per
    step; memory: one gradient's worth in float32 or wider), this rank adds the noise of the range
    it owns (``owned_range``), and the buffer is all-reduced. Returns tensors of ``totals``' shapes in
    the buffer's dtype, on ``totals``' device."""
    rank, world = rank_and_world()
    sizes = [t.numel() for t in totals]
    device = totals[0].device if totals else collective_device()
    flat = torch.cat([t.reshape(-1).to(reduction_dtype(totals)) for t in totals]) if totals else torch.zeros(0)
    start, stop = owned_range(flat.numel(), rank, world)
    if std > 0 and stop > start:
        flat[start:stop] += gaussian_range(sizes, start, stop, std, flat.dtype).to(flat.device)
    flat = flat.to(collective_device())
    dist.all_reduce(flat)
    flat = flat.to(device)
    out, first = [], 0
    for t, n in zip(totals, sizes):
        out.append(flat[first:first + n].view(t.shape))
        first += n
    return out
