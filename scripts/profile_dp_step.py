"""Where a data-parallel private step's time goes: the whole step, the engine's reduction, the noise.

    torchrun --nproc-per-node 2 scripts/profile_dp_step.py     # from the repository root

Builds ``bench dp``'s default model (random GPT-2 architecture, 4 x 256, GPT-2 vocabulary), gives each
rank 8 examples of 128 tokens, takes one warm-up and 3 timed book-keeping steps, and prints per rank
the seconds per step spent in total, in ``noisy_all_reduce`` (concatenating the clipped sums, this
rank's noise, the all-reduce, waiting for the other ranks) and in drawing the noise alone.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import torch
import torch.nn.functional as F

import privformers.dp.distributed as distributed
from privformers.dp import PrivacyEngine
from privformers.dp.bench import build_model

SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn):
    """``fn`` that adds its wall time to ``SPENT[name]``."""
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - start
    return wrapper


def main(steps: int = 3) -> None:
    torch.set_num_threads(1)
    distributed.init_from_env()
    rank, _ = distributed.rank_and_world()
    distributed.gaussian_range = timed("noise", distributed.gaussian_range)
    distributed.noisy_all_reduce = timed("reduction", distributed.noisy_all_reduce)
    model = build_model("gpt2", 4, 256, 128)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    PrivacyEngine(model, batch_size=16, sample_size=50_000, steps=1000, max_grad_norm=1.0, noise_multiplier=1.0,
                  clipping_mode="bk").attach(optimizer)
    ids = torch.randint(0, model.config.vocab_size, (8, 128), generator=torch.Generator().manual_seed(rank))

    def step() -> None:
        logits = model(input_ids=ids).logits[:, :-1]
        optimizer.step(loss=F.cross_entropy(logits.permute(0, 2, 1), ids[:, 1:], reduction="none").mean(dim=1))
        optimizer.zero_grad(set_to_none=True)

    step()
    SPENT.clear()
    torch.distributed.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.distributed.barrier()
    SPENT["step"] = time.perf_counter() - start
    print(json.dumps({"rank": rank, **{k: round(v / steps, 3) for k, v in SPENT.items()}}))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
