"""Run a function on several gloo ranks (forked processes, which start with the test process's imports
in a fraction of a second, where spawned ones take 10-30 s to import torch and transformers on the
loaded 2-core machine) and collect what each rank returns.

``run_ranks(fn, world, folder, *args)`` forks ``world`` processes that join one gloo group through a
file store in ``folder``, call ``fn(rank, world, *args)`` and save its return value; the parent gets
the values in rank order. ``fn`` must be importable (defined at module level in a test module).
"""

from __future__ import annotations

import os
import socket
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


def _entry(rank: int, world: int, folder: str, port: int | None, fn, args) -> None:
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if port is None:
        dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world)
    else:  # as a launcher would leave it: the code under test joins the group itself
        os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        result = fn(rank, world, *args)
        torch.save(result, Path(folder) / f"rank{rank}.pt")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(fn, world: int, folder: Path, *args, launcher_env: bool = False) -> list:
    """``fn(rank, world, *args)`` on ``world`` gloo ranks; their return values, in rank order. With
    ``launcher_env`` the ranks get torchrun's environment variables instead of a joined group."""
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port() if launcher_env else None
    mp.start_processes(_entry, args=(world, str(folder), port, fn, args), nprocs=world, start_method="fork")
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(world)]
