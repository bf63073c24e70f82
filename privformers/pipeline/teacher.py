"""Phase 1: the teacher, fine-tuned on the private rows by dp-train with the noise the budget plan chose.

The pipeline calls dp-train's own entry point (``privformers.dp.train.train``) with arguments parsed by
dp-train's own parser, so the phase is exactly ``privformers dp-train ... --noise-multiplier SIGMA``
(or ``--non-private``): Poisson batches of expected size B over the N private rows (q = B / N), T
steps, noise from the cryptographic streams. The multiplier is the plan's, calibrated so that the
*composed* budget holds; dp-train's own report of the run is checked against the ledger's event.
Cost: dp-train's (for MiniLM on SST-2 with LoRA, batch 4,096 x 75 steps: about 75 min of one core).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

from privformers.pipeline.budget import PhaseEvent
from privformers.pipeline.config import PipelineConfig

TEACHER_DIR = "teacher"


def dp_train_argv(config: PipelineConfig, noise_multiplier: float | None, output_dir: Path) -> list[str]:
    """The ``privformers dp-train`` command line of phase 1 (None: the non-private baseline)."""
    t = config.teacher
    argv = ["--model", config.model, "--data", config.private_data, "--task", config.task,
            "--batch-size", str(t.batch_size), "--max-physical-batch-size", str(t.max_physical_batch_size),
            "--steps", str(t.steps), "--lr", repr(t.lr), "--max-grad-norm", repr(t.max_grad_norm),
            "--max-length", str(t.max_length), "--clipping-mode", t.clipping_mode, "--lr-schedule", t.lr_schedule,
            "--warmup-steps", str(t.warmup_steps), "--log-every", str(max(1, t.steps // 4)),
            "--threads", str(config.threads), "--seed", str(config.seed), "--output-dir", str(output_dir)]
    if config.task == "lm":
        argv += ["--lm-data-task", config.data_reader]
    if noise_multiplier is None:
        argv += ["--non-private"]
    else:
        argv += ["--noise-multiplier", repr(noise_multiplier), "--target-delta", repr(config.budget.delta)]
    if t.trainable:
        argv += ["--trainable", t.trainable]
    if t.lora:
        argv += ["--lora", str(t.lora)]
    if t.freeze_embeddings:
        argv += ["--freeze-embeddings"]
    return argv


def parse_dp_train(argv: list[str]) -> argparse.Namespace:
    """dp-train's arguments as its own parser reads them (every default it has, today's and tomorrow's)."""
    from privformers.dp.commands import register

    parser = argparse.ArgumentParser(prog="privformers pipeline")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dp-train", *argv])
    args.argv = argv
    return args


def train_teacher(config: PipelineConfig, event: PhaseEvent, out: Path) -> Path:
    """Run phase 1 into ``out/teacher``; return the teacher folder (``final``). Raises RuntimeError when
    dp-train's report disagrees with the event the ledger counted (q, sigma or steps)."""
    from privformers.dp.train import train

    folder = out / TEACHER_DIR
    args = parse_dp_train(dp_train_argv(config, event.noise_multiplier, folder))
    with contextlib.redirect_stdout(sys.stderr):   # dp-train's progress lines; stdout is the pipeline's report
        final = train(args)
    if event.noise_multiplier is not None:
        stats = final["training"]
        ran = (stats["sample_rate"], stats["noise_multiplier"], final["step"])
        if not (math.isclose(ran[0], event.sample_rate, rel_tol=1e-9) and
                math.isclose(ran[1], event.noise_multiplier, rel_tol=1e-9) and ran[2] == event.steps):
            raise RuntimeError(f"dp-train ran q={ran[0]}, sigma={ran[1]}, {ran[2]} steps, but the ledger counted "
                               f"q={event.sample_rate}, sigma={event.noise_multiplier}, {event.steps} steps")
    return folder / "final"
