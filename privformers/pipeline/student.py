"""Phase 2: the MPC-friendly student, converted from the DP teacher by a recipe and distilled from it.

On public rows (``StudentConfig.data == "public"``) the distillation only reads the DP teacher's outputs
on data that is not private: post-processing, no privacy cost, and the ordinary trainer
(``privformers.distill.distill``: resumable checkpoints in ``OUT/distill``). On the private rows it is
DP-SGD (``privformers.distill.distill_private``) with the noise multiplier of the budget plan; the
non-private baseline distils on the private rows without noise. The student lands at the top of the
output folder (``save_student`` files, recipe and tokenizer), so ``privformers classify / generate /
serve --model OUT`` load it as it is.
Cost: the distillation's steps (MiniLM student, batch 32: roughly 1 s per step on one core).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from privformers.pipeline.config import PipelineConfig

WORK_DIR = "distill"


def load_teacher(folder: Path):
    """The teacher (eager attention, eval mode) and its tokenizer (pad token set, as dp-train sets it)."""
    from privformers.approx import load_student
    from privformers.dp.train import load_tokenizer

    return load_student(folder), load_tokenizer(str(folder))


def encode(config: PipelineConfig, tokenizer, rows: list) -> list[dict]:
    """Unpadded examples as dp-train builds them (classification texts; lm ``source = target<eos>``)."""
    from privformers.dp import datasets

    max_length = config.student.max_length
    if config.task == "classification":
        return datasets.encode_classification(tokenizer, [r.text for r in rows], [r.label for r in rows], max_length)
    return datasets.encode_pairs(tokenizer, rows, max_length)


def fixed_batches(config: PipelineConfig, tokenizer, rows: list) -> list[dict]:
    """Shuffled (seeded) padded batches for the ordinary trainer (public rows, or the non-private baseline)."""
    from privformers.dp.datasets import pad_collate

    examples = encode(config, tokenizer, rows)
    random.Random(config.seed).shuffle(examples)
    size, collate = config.student.batch_size, pad_collate(tokenizer.pad_token_id)
    return [collate(examples[i:i + size]) for i in range(0, len(examples), size)]


def stages(config: PipelineConfig, per_example: bool) -> list:
    """MPCFormer's two stages (or MERGE's objective), without the stages of 0 steps."""
    from privformers.distill import (
        MergeWeights,
        MPCFormerWeights,
        Stage,
        merge_objective,
        mpcformer_stage1,
        mpcformer_stage2,
    )

    s = config.student
    if config.student_method == "merge":
        return [Stage("merge", merge_objective(MergeWeights()), s.stage1_steps + s.stage2_steps)]
    w = MPCFormerWeights()
    both = [Stage("stage1", mpcformer_stage1(w, per_example), s.stage1_steps),
            Stage("stage2", mpcformer_stage2(w, per_example), s.stage2_steps)]
    return [stage for stage in both if stage.steps > 0]


def train_student(config: PipelineConfig, teacher_dir: Path, rows: list, out: Path,
                  noise_multiplier: float | None) -> dict:
    """Distil the student of ``teacher_dir`` on ``rows`` (public, or private with ``noise_multiplier``; None on
    private rows is the non-private baseline) and save it at the top of ``out``. Returns what ran."""
    from privformers.approx import AffineLayerNorm, approximate, fit_affine_norms, save_student
    from privformers.distill import PrivateDistillConfig, TrainerConfig, distill, distill_private
    from privformers.distill.trainer import CHECKPOINT
    from privformers.dp.datasets import pad_collate

    s = config.student
    teacher, tokenizer = load_teacher(teacher_dir)
    student = approximate(teacher, s.recipe)
    work = out / WORK_DIR
    if s.data == "private" and noise_multiplier is not None:
        examples = encode(config, tokenizer, rows)
        summary = distill_private(student, teacher, examples, pad_collate(tokenizer.pad_token_id),
                                  stages(config, per_example=True),
                                  PrivateDistillConfig(s.batch_size, noise_multiplier, s.max_grad_norm,
                                                       s.max_physical_batch_size, s.lr, delta=config.budget.delta))
    else:
        batches = fixed_batches(config, tokenizer, rows)
        resume = (work / CHECKPOINT).is_file()   # public rows (or the baseline): continuing costs no privacy
        if s.fit_norms and not resume:
            if not any(isinstance(m, AffineLayerNorm) for m in student.modules()):
                raise ValueError(f"fit_norms: recipe {s.recipe!r} has no affine norms to fit")
            fit_affine_norms(student, teacher, batches[:s.fit_norms])
        result = distill(student, teacher, batches, stages(config, per_example=False), work,
                         TrainerConfig(lr=s.lr, seed=config.seed, checkpoint_every=250), resume=resume)
        summary = {"steps": sum(result["steps"].values()), "batches": len(batches)}
        shutil.rmtree(work / "checkpoint", ignore_errors=True)   # the student is saved below; resuming is over
        shutil.rmtree(work / "student", ignore_errors=True)
    save_student(student, out)
    tokenizer.save_pretrained(out)
    return {"recipe": s.recipe, "method": config.student_method, "data": s.data, **summary}
