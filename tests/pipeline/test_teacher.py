"""Phase 1 is exactly a ``privformers dp-train`` run: the teacher's DPTrainConfig equals what the command's
parser builds from the same settings (every other setting at the command's default)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from privformers.cli.dp import register, train_config
from privformers.pipeline.config import PipelineConfig, TeacherConfig
from privformers.pipeline.teacher import dp_train_config


def _parsed(argv: list[str]):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return train_config(parser.parse_args(["dp-train", *argv]))


@pytest.mark.parametrize("sigma", [None, 0.7])
@pytest.mark.parametrize("task,teacher", [("classification", TeacherConfig(lora=4)),
                                          ("lm", TeacherConfig(trainable="h\\.1\\.", freeze_embeddings=True))])
def test_the_teacher_runs_what_dp_train_would(task, teacher, sigma):
    config = PipelineConfig(task=task, model="m", private_data="private.tsv", out="o", teacher=teacher, threads=2,
                            seed=3)
    t = teacher
    argv = ["--model", "m", "--data", "private.tsv", "--task", task, "--batch-size", str(t.batch_size),
            "--max-physical-batch-size", str(t.max_physical_batch_size), "--steps", str(t.steps), "--lr", str(t.lr),
            "--max-grad-norm", str(t.max_grad_norm), "--max-length", str(t.max_length), "--clipping-mode",
            t.clipping_mode, "--lr-schedule", t.lr_schedule, "--warmup-steps", str(t.warmup_steps), "--log-every",
            str(max(1, t.steps // 4)), "--threads", "2", "--seed", "3", "--output-dir", "out/teacher"]
    argv += ["--lm-data-task", "e2e"] if task == "lm" else []
    argv += ["--non-private"] if sigma is None else ["--noise-multiplier", str(sigma), "--target-delta",
                                                     str(config.budget.delta)]
    argv += ["--lora", str(t.lora)] if t.lora else []
    argv += ["--trainable", t.trainable, "--freeze-embeddings"] if t.trainable else []
    assert dp_train_config(config, sigma, Path("out/teacher")) == _parsed(argv)
