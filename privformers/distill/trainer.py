"""The distillation loop: stages of (objective, steps), tqdm progress, periodic resumable checkpoints.

A checkpoint (``DIR/checkpoint/trainer.pt``) holds the student's weights, the current stage's
optimizer state, the stage index and step, and the RNG state, so ``resume=True`` continues exactly
where it stopped. The final student is written by ``save_student`` to ``DIR/student``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from privformers.approx import save_student
from privformers.distill.objectives import Objective

CHECKPOINT = "checkpoint/trainer.pt"


@dataclass(frozen=True)
class Stage:
    """A named phase: its objective and number of optimizer steps."""

    name: str
    objective: Objective
    steps: int


@dataclass
class TrainerConfig:
    """Optimizer and bookkeeping settings."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    clip: float = 1.0
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0


def batch_at(batches: Sequence[dict[str, torch.Tensor]], step: int, seed: int) -> dict[str, torch.Tensor]:
    """The batch for a global step: epochs walk a permutation seeded by (seed, epoch), so a resumed
    run sees the same batches as an uninterrupted one."""
    epoch, index = divmod(step, len(batches))
    order = list(range(len(batches)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return batches[order[index]]


def _save(path: Path, student: nn.Module, optimizer: torch.optim.Optimizer, stage: int, step: int,
          done: int, history: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"student": student.state_dict(), "optimizer": optimizer.state_dict(), "stage": stage, "step": step,
                "done": done, "history": history, "torch_rng": torch.get_rng_state()}, tmp)
    tmp.replace(path)


def distill(student: nn.Module, teacher: nn.Module, batches: Sequence[dict[str, torch.Tensor]],
            stages: Sequence[Stage], out: str | Path, config: TrainerConfig | None = None,
            resume: bool = False, stop_after: int | None = None) -> dict:
    """Train student against teacher through the stages; save checkpoints and the final student in out.

    stop_after: stop (after checkpointing) once this many steps ran in this call, for interrupted runs.
    Returns a summary: steps per stage, the last logged terms per stage, and the student folder.
    """
    config = config or TrainerConfig()
    if not batches:
        raise ValueError("no training batches")
    out = Path(out)
    ckpt = out / CHECKPOINT
    teacher.eval()  # its forwards run under no_grad; its parameters are left as they are
    start_stage, start_step, done, history = 0, 0, 0, []
    state = None
    if resume:
        if not ckpt.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}")
        state = torch.load(ckpt, weights_only=False, map_location="cpu")
        student.load_state_dict(state["student"])
        start_stage, start_step, done, history = state["stage"], state["step"], state["done"], state["history"]
        torch.set_rng_state(state["torch_rng"])
    else:
        torch.manual_seed(config.seed)
    ran = 0
    for index, stage in enumerate(stages):
        if index < start_stage:
            continue
        optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=config.lr,
                                      weight_decay=config.weight_decay)
        first = 0
        if state is not None and index == start_stage:
            optimizer.load_state_dict(state["optimizer"])
            first = start_step
        student.train()
        bar = tqdm(range(first, stage.steps), desc=stage.name, unit="step", initial=first, total=stage.steps,
                   mininterval=5)
        for step in bar:
            terms = stage.objective(student, teacher, batch_at(batches, done, config.seed))
            optimizer.zero_grad()
            terms["loss"].backward()
            if config.clip:
                torch.nn.utils.clip_grad_norm_(student.parameters(), config.clip)
            optimizer.step()
            done += 1
            ran += 1
            record = {"stage": stage.name, "step": step + 1, **{k: float(v.detach()) for k, v in terms.items()}}
            if (step + 1) % config.log_every == 0 or step + 1 == stage.steps:
                history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
            finished = step + 1 == stage.steps
            if (step + 1) % config.checkpoint_every == 0 or finished or ran == stop_after:
                _save(ckpt, student, optimizer, index, step + 1, done, history)  # a longer rerun extends the stage
            if ran == stop_after:
                return {"stopped_at": {"stage": stage.name, "step": step + 1}, "history": history}
    student.eval()
    folder = save_student(student, out / "student")
    summary = {"student": str(folder), "steps": {s.name: s.steps for s in stages}, "history": history}
    (out / "distill_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
