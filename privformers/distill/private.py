"""Distillation on private rows with DP-SGD: the student's per-example distillation loss, clipped and noised.

Each step draws a Poisson batch (every row kept with probability q = batch_size / N, from the
cryptographic stream of ``privformers.dp.sampling``), cuts it into physical batches, and computes each
example's loss against the teacher's outputs on that example alone (MPCFormer's terms with
``per_example=True``: attention maps and hidden states in stage 1, soft cross-entropy in stage 2). The
privacy engine clips every example's gradient to ``max_grad_norm`` and adds Gaussian noise of standard
deviation ``noise_multiplier * max_grad_norm`` once per step (``privformers.dp.PrivacyEngine``). The teacher
is fixed during the phase, so an example's loss depends on that example only and clipping bounds its
influence: the phase is ``T = sum of stage steps`` compositions of the Poisson-subsampled Gaussian
(q, sigma), whatever the teacher is. When the teacher itself was trained with DP on the same rows,
the two phases compose (``privformers.pipeline.budget``).

The loop never uses torch's generators for sampling or noise. Dropout in the student still draws from
torch's generator: it is part of the computation, not of the privacy mechanism. Losses on the private
batches are not logged or returned: they are statistics of the private rows without noise.
Cost: one teacher forward and one student forward and backward per physical batch, plus per-example
norms (book-keeping clipping by default: about 1.5-2x a non-private step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import tqdm

from privformers.distill.trainer import Stage


@dataclass(frozen=True)
class PrivateDistillConfig:
    """DP-SGD settings: expected batch, noise multiplier, clip norm, physical batch, optimizer."""

    batch_size: int
    noise_multiplier: float
    max_grad_norm: float = 1.0
    max_physical_batch_size: int = 32
    lr: float = 1e-4
    clipping_mode: str = "bk"
    delta: float = 1e-5


def distill_private(student: nn.Module, teacher: nn.Module, examples: Sequence[dict],
                    collate: Callable[[list[dict]], dict[str, torch.Tensor]], stages: Sequence[Stage],
                    config: PrivateDistillConfig) -> dict:
    """Train ``student`` on ``examples`` through the stages (per-example objectives) with DP-SGD.

    Returns the event's parameters (``sample_rate``, ``noise_multiplier``, ``steps``); no loss values.
    The student's trainable layers must all have a per-example gradient rule (the engine says which do not)."""
    from privformers.dp.engine import PrivacyEngine
    from privformers.dp.sampling import PoissonBatchSampler, physical_batches

    n, steps = len(examples), sum(stage.steps for stage in stages)
    if not 0 < config.batch_size <= n:
        raise ValueError(f"the expected batch ({config.batch_size}) must be between 1 and the {n} private rows")
    if steps < 1:
        raise ValueError("no distillation steps")
    teacher.eval()
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0)
    engine = PrivacyEngine(student, batch_size=config.batch_size, sample_size=n, steps=steps,
                           max_grad_norm=config.max_grad_norm, noise_multiplier=config.noise_multiplier,
                           target_delta=config.delta, clipping_mode=config.clipping_mode)
    engine.attach(optimizer)
    batches = iter(PoissonBatchSampler(n, config.batch_size / n, steps))
    student.train()
    try:
        for stage in stages:
            for _ in tqdm(range(stage.steps), desc=f"dp-{stage.name}", unit="step", mininterval=5):
                indices = sorted(next(batches), key=lambda i: len(examples[i]["input_ids"]))
                chunks = physical_batches(indices, config.max_physical_batch_size)
                if not chunks:
                    optimizer.step()   # an empty Poisson batch: noise only
                for k, chunk in enumerate(chunks):
                    loss = stage.objective(student, teacher, collate([examples[i] for i in chunk]))["loss"]
                    if k == len(chunks) - 1:
                        optimizer.step(loss=loss)
                    else:
                        optimizer.virtual_step(loss=loss)
                optimizer.zero_grad(set_to_none=True)
    finally:
        engine.detach()
    student.eval()
    return {"sample_rate": engine.sample_rate, "noise_multiplier": engine.noise_multiplier,
            "steps": engine.steps_taken}
