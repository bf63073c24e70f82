"""CLI: ``privformers distill`` trains an MPC-friendly student of a teacher folder (MPCFormer or MERGE)."""

from __future__ import annotations

import argparse
import sys

import torch

from privformers.cli.argtypes import (
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    strict_json,
)
from privformers.distill.objectives import MergeWeights, MPCFormerWeights

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "vocab.txt", "spiece.model")

CLASSIFICATION_READERS = ("sst2", "imdb")


def register(subparsers) -> None:
    """Add the ``distill`` subcommand."""
    w, m = MPCFormerWeights(), MergeWeights()
    p = subparsers.add_parser("distill", help="distill an approximated student from a teacher (MPCFormer / MERGE)")
    p.add_argument("--teacher", required=True, help="teacher model folder (save_pretrained form, with tokenizer)")
    p.add_argument("--recipe", required=True, help="approximation recipe, e.g. mpcformer-quad-2quad, merge")
    p.add_argument("--data", required=True, help="training data file")
    p.add_argument("--task", required=True, choices=("classification", "lm"))
    p.add_argument("--reader", help="data reader: sst2/imdb (classification, default sst2) or e2e/webnlg/... (lm, "
                   "default e2e)")
    p.add_argument("--out", required=True, help="output folder: checkpoint/, student/, distill_summary.json")
    p.add_argument("--method", choices=("mpcformer", "merge"),
                   help="objective (default: merge for merge* recipes on lm, else mpcformer)")
    p.add_argument("--stage1-steps", type=non_negative_int, default=100,
                   help="MPCFormer stage 1 (attention + hidden MSE)")
    p.add_argument("--stage2-steps", type=non_negative_int, default=100,
                   help="MPCFormer stage 2 (soft CE on logits), or MERGE's steps")
    p.add_argument("--lr", type=positive_float, default=5e-5)
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--max-length", type=positive_int, default=128)
    p.add_argument("--limit", type=positive_int, help="use only the first N examples")
    p.add_argument("--split", default="train", choices=("train", "validation", "test", "all"),
                   help="lm: the part of train-lm's split by source to train on (default train: the teacher's "
                        "test sources stay unseen)")
    p.add_argument("--validation-fraction", type=fraction, default=0.05, help="lm: as train-lm")
    p.add_argument("--test-fraction", type=fraction, default=0.10, help="lm: as train-lm")
    p.add_argument("--split-seed", type=int, default=0, help="lm: as train-lm")
    p.add_argument("--fit-norms", type=non_negative_int, default=0, metavar="BATCHES",
                   help="before training, fit the student's affine norms (thex, merge-quad-affine) to the teacher's "
                        "norms by least squares on this many training batches (0: start from gamma and beta)")
    p.add_argument("--checkpoint-every", type=positive_int, default=100)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint/trainer.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument("--attention-weight", type=non_negative_float, default=w.attention)
    p.add_argument("--hidden-weight", type=non_negative_float, default=w.hidden)
    p.add_argument("--temperature", type=positive_float, default=w.temperature, help="stage 2 soft-label temperature")
    p.add_argument("--regression", action="store_true", help="stage 2 uses MSE on the logits")
    merge_types = {"lam": probability, "tau": positive_float, "dropout": fraction}  # the rest: weights, eta >= 0
    for name in ("cosine", "embed_mse", "ce", "soft_kl", "inter", "lam", "tau", "eta", "dropout", "resend"):
        p.add_argument(f"--{name.replace('_', '-')}", type=merge_types.get(name, non_negative_float),
                       default=getattr(m, name), dest=f"merge_{name}",
                       help=f"MERGE {name} (default {getattr(m, name)}; a weight of 0 disables the term)")
    p.set_defaults(func=run_distill)


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad input before any model is loaded (ValueError / FileNotFoundError with the reason)."""
    from pathlib import Path

    from privformers.approx import RECIPES

    if not (Path(args.teacher) / "config.json").is_file():
        raise FileNotFoundError(f"no teacher at {args.teacher!r}: expected a folder written by save_pretrained "
                                "(config.json, weights and tokenizer)")
    if not any((Path(args.teacher) / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(f"no tokenizer in {args.teacher!r}: distill uses the teacher's tokenizer "
                                f"(one of {', '.join(TOKENIZER_FILES)})")
    if args.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {args.recipe!r}; known: {', '.join(sorted(RECIPES))}")
    if not Path(args.data).is_file():
        raise FileNotFoundError(f"data file not found: {args.data}")
    for flag, value, low in (("--stage1-steps", args.stage1_steps, 0), ("--stage2-steps", args.stage2_steps, 0),
                             ("--batch-size", args.batch_size, 1), ("--threads", args.threads, 1),
                             ("--fit-norms", args.fit_norms, 0)):
        if value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be positive, got {args.lr}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")


def run_distill(args: argparse.Namespace) -> int:
    """Load the teacher and data, build the student by the recipe, run the stages, print a JSON summary.
    Bad input (a missing teacher, data file or checkpoint, an unknown recipe, bad numbers): exit 2
    with the reason, before any training."""
    from privformers.distill import distill

    try:
        job = _prepare(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"privformers distill: error: {exc}", file=sys.stderr)
        return 2
    summary = distill(job["student"], job["teacher"], job["batches"], job["stages"], args.out, job["config"],
                      resume=args.resume)
    job["tokenizer"].save_pretrained(summary["student"])
    last = {r["stage"]: r for r in summary["history"]}
    print(strict_json({"student": summary["student"], "method": job["method"], "recipe": args.recipe,
                      "steps": summary["steps"], "last": last}, indent=2))
    return 0


def _prepare(args: argparse.Namespace) -> dict:
    """Everything the training needs: teacher, tokenizer, batches, student, stages, trainer config."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from privformers.approx import AffineLayerNorm, approximate, fit_affine_norms, load_student
    from privformers.distill import Stage, TrainerConfig, merge_objective, mpcformer_stage1, mpcformer_stage2
    from privformers.distill.data import classification_batches, lm_batches
    from privformers.distill.trainer import CHECKPOINT

    _check_arguments(args)
    if args.resume and not (Path(args.out) / CHECKPOINT).is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {Path(args.out) / CHECKPOINT}")
    torch.set_num_threads(args.threads)
    teacher = load_student(args.teacher)
    try:
        tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    except (OSError, ValueError) as exc:
        raise ValueError(f"no tokenizer in {args.teacher!r} (distill uses the teacher's): {exc}") from None
    if args.task == "classification":
        reader = args.reader or "sst2"
        batches = classification_batches(tokenizer, reader, args.data, args.batch_size, args.max_length, args.limit)
    else:
        reader = args.reader or "e2e"
        batches = lm_batches(tokenizer, reader, args.data, args.batch_size, args.max_length, args.limit, args.split,
                             args.validation_fraction, args.test_fraction, args.split_seed)
    if not batches:
        raise ValueError(f"no training examples in {args.data} (reader {reader!r})")
    student = approximate(teacher, args.recipe)
    if args.fit_norms and not args.resume:  # a resumed run loads its fitted, trained weights
        if not any(isinstance(m, AffineLayerNorm) for m in student.modules()):
            raise ValueError(f"--fit-norms: recipe {args.recipe!r} has no affine norms to fit")
        fitted = fit_affine_norms(student, teacher, batches[:args.fit_norms])
        print(f"fitted {fitted} affine norms on {min(args.fit_norms, len(batches))} batches", file=sys.stderr)
    method = args.method or ("merge" if args.task == "lm" and args.recipe.startswith("merge") else "mpcformer")
    if method == "merge":
        if args.task != "lm":
            raise ValueError("--method merge trains a generation student: use --task lm")
        weights = MergeWeights(**{k[len("merge_"):]: v for k, v in vars(args).items() if k.startswith("merge_")})
        stages = [Stage("merge", merge_objective(weights), args.stage2_steps)]
    else:
        w = MPCFormerWeights(args.attention_weight, args.hidden_weight, args.temperature, args.regression)
        stages = [Stage("stage1", mpcformer_stage1(w), args.stage1_steps),
                  Stage("stage2", mpcformer_stage2(w), args.stage2_steps)]
        stages = [s for s in stages if s.steps > 0]
    if not any(stage.steps for stage in stages):
        raise ValueError("nothing to train: every stage has 0 steps")
    config = TrainerConfig(lr=args.lr, checkpoint_every=args.checkpoint_every, seed=args.seed)
    return {"teacher": teacher, "tokenizer": tokenizer, "batches": batches, "student": student, "stages": stages,
            "config": config, "method": method}
