"""Run a function on several gloo ranks (forked processes, which start with the test process's imports
in a fraction of a second, where spawned ones take 10-30 s to import torch and transformers on the
loaded 2-core machine) and collect what each rank returns.

``run_ranks(fn, world, folder, *args)`` forks ``world`` processes that join one gloo group through a
file store in ``folder``, call ``fn(rank, world, *args)`` and save its return value; the parent gets
the values in rank order. ``fn`` must be importable (defined at module level in a test module).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

KEY = bytes(range(100, 132))  # the seeded test stream: every AES-CTR key pinned to this value


def pin_streams(monkeypatch=None) -> None:
    """Key every fresh DP stream (noise, sampling) with ``KEY`` instead of os.urandom: in the parent through
    pytest's ``monkeypatch``, in a rank directly (the process ends with the test)."""
    import privformers.mpc.prg as prg

    if monkeypatch is not None:
        monkeypatch.setattr(prg, "new_seed", lambda: KEY)
    else:
        prg.new_seed = lambda: KEY


def _entry(rank: int, world: int, folder: str, fn, args) -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world)
    try:
        result = fn(rank, world, *args)
        torch.save(result, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def run_ranks(fn, world: int, folder: Path, *args) -> list:
    """``fn(rank, world, *args)`` on ``world`` gloo ranks; their return values, in rank order."""
    folder.mkdir(parents=True, exist_ok=True)
    mp.start_processes(_entry, args=(world, str(folder), fn, args), nprocs=world, start_method="fork")
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(world)]
