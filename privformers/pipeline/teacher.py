"""Phase 1: the teacher, fine-tuned on the private rows by dp-train with the noise the budget plan chose.

The pipeline calls dp-train's own entry point (``privformers.dp.train.train``) with a ``DPTrainConfig``
whose other settings are dp-train's defaults, so the phase is exactly ``privformers dp-train ...
--noise-multiplier SIGMA`` (or ``--non-private``): Poisson batches of expected size B over the N private
rows (q = B / N), T steps, noise from the cryptographic streams. The multiplier is the plan's, calibrated so that the
*composed* budget holds; dp-train's own report of the run is checked against the ledger's event.
Cost: dp-train's (for MiniLM on SST-2 with LoRA, batch 4,096 x 75 steps: about 75 min of one core).
"""

from __future__ import annotations

import contextlib
import math
import sys
from pathlib import Path

from privformers.dp.config import DPTrainConfig
from privformers.pipeline.budget import PhaseEvent
from privformers.pipeline.config import PipelineConfig

TEACHER_DIR = "teacher"


def dp_train_config(config: PipelineConfig, noise_multiplier: float | None, output_dir: Path) -> DPTrainConfig:
    """The dp-train run of phase 1 (None: the non-private baseline); what ``privformers dp-train`` builds
    from the same options, with its defaults for the rest."""
    t = config.teacher
    return DPTrainConfig(
        model=config.model, data=config.private_data, task=config.task, batch_size=t.batch_size,
        max_physical_batch_size=t.max_physical_batch_size, steps=t.steps, lr=float(t.lr),
        max_grad_norm=float(t.max_grad_norm),
        max_length=t.max_length, clipping_mode=t.clipping_mode, lr_schedule=t.lr_schedule,
        warmup_steps=t.warmup_steps, log_every=max(1, t.steps // 4), threads=config.threads, seed=config.seed,
        output_dir=str(output_dir), **({"lm_data_task": config.data_reader} if config.task == "lm" else {}),
        non_private=noise_multiplier is None, noise_multiplier=noise_multiplier,
        target_delta=None if noise_multiplier is None else config.budget.delta,
        trainable=t.trainable or None, lora=t.lora or None, freeze_embeddings=bool(t.freeze_embeddings))


def train_teacher(config: PipelineConfig, event: PhaseEvent, out: Path) -> Path:
    """Run phase 1 into ``out/teacher``; return the teacher folder (``final``). Raises RuntimeError when
    dp-train's report disagrees with the event the ledger counted (q, sigma or steps)."""
    from privformers.dp.train import train

    folder = out / TEACHER_DIR
    run = dp_train_config(config, event.noise_multiplier, folder)
    with contextlib.redirect_stdout(sys.stderr):   # dp-train's progress lines; stdout is the pipeline's report
        final = train(run)
    if event.noise_multiplier is not None:
        stats = final["training"]
        ran = (stats["sample_rate"], stats["noise_multiplier"], final["step"])
        if not (math.isclose(ran[0], event.sample_rate, rel_tol=1e-9) and
                math.isclose(ran[1], event.noise_multiplier, rel_tol=1e-9) and ran[2] == event.steps):
            raise RuntimeError(f"dp-train ran q={ran[0]}, sigma={ran[1]}, {ran[2]} steps, but the ledger counted "
                               f"q={event.sample_rate}, sigma={event.noise_multiplier}, {event.steps} steps")
    return folder / "final"
