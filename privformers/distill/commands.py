"""CLI: ``privformers distill`` trains an MPC-friendly student of a teacher folder (MPCFormer or MERGE)."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from privformers.distill.objectives import MergeWeights, MPCFormerWeights

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
    p.add_argument("--stage1-steps", type=int, default=100, help="MPCFormer stage 1 (attention + hidden MSE)")
    p.add_argument("--stage2-steps", type=int, default=100, help="MPCFormer stage 2 (soft CE on logits), or "
                   "MERGE's steps")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--limit", type=int, help="use only the first N examples")
    p.add_argument("--split", default="train", choices=("train", "validation", "test", "all"),
                   help="lm: the part of train-lm's split by source to train on (default train: the teacher's "
                        "test sources stay unseen)")
    p.add_argument("--validation-fraction", type=float, default=0.05, help="lm: as train-lm")
    p.add_argument("--test-fraction", type=float, default=0.10, help="lm: as train-lm")
    p.add_argument("--split-seed", type=int, default=0, help="lm: as train-lm")
    p.add_argument("--fit-norms", type=int, default=0, metavar="BATCHES",
                   help="before training, fit the student's affine norms (thex, merge-quad-affine) to the teacher's "
                        "norms by least squares on this many training batches (0: start from gamma and beta)")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint/trainer.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--attention-weight", type=float, default=w.attention)
    p.add_argument("--hidden-weight", type=float, default=w.hidden)
    p.add_argument("--temperature", type=float, default=w.temperature, help="stage 2 soft-label temperature")
    p.add_argument("--regression", action="store_true", help="stage 2 uses MSE on the logits")
    for name in ("cosine", "embed_mse", "ce", "soft_kl", "inter", "lam", "tau", "eta", "dropout", "resend"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(m, name), dest=f"merge_{name}",
                       help=f"MERGE {name} (default {getattr(m, name)}; a weight of 0 disables the term)")
    p.set_defaults(func=run_distill)


def run_distill(args: argparse.Namespace) -> int:
    """Load the teacher and data, build the student by the recipe, run the stages, print a JSON summary."""
    from transformers import AutoTokenizer

    from privformers.approx import AffineLayerNorm, approximate, fit_affine_norms, load_student
    from privformers.distill import Stage, TrainerConfig, distill, merge_objective, mpcformer_stage1, mpcformer_stage2
    from privformers.distill.data import classification_batches, lm_batches

    torch.set_num_threads(args.threads)
    teacher = load_student(args.teacher)
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    if args.task == "classification":
        reader = args.reader or "sst2"
        batches = classification_batches(tokenizer, reader, args.data, args.batch_size, args.max_length, args.limit)
    else:
        reader = args.reader or "e2e"
        batches = lm_batches(tokenizer, reader, args.data, args.batch_size, args.max_length, args.limit, args.split,
                             args.validation_fraction, args.test_fraction, args.split_seed)
    student = approximate(teacher, args.recipe)
    if args.fit_norms < 0:
        raise SystemExit("--fit-norms takes a number of batches >= 0")
    if args.fit_norms and not args.resume:  # a resumed run loads its fitted, trained weights
        if not any(isinstance(m, AffineLayerNorm) for m in student.modules()):
            raise SystemExit(f"--fit-norms: recipe {args.recipe!r} has no affine norms to fit")
        fitted = fit_affine_norms(student, teacher, batches[:args.fit_norms])
        print(f"fitted {fitted} affine norms on {min(args.fit_norms, len(batches))} batches", file=sys.stderr)
    method = args.method or ("merge" if args.task == "lm" and args.recipe.startswith("merge") else "mpcformer")
    if method == "merge":
        if args.task != "lm":
            raise SystemExit("--method merge trains a generation student: use --task lm")
        weights = MergeWeights(**{k[len("merge_"):]: v for k, v in vars(args).items() if k.startswith("merge_")})
        stages = [Stage("merge", merge_objective(weights), args.stage2_steps)]
    else:
        w = MPCFormerWeights(args.attention_weight, args.hidden_weight, args.temperature, args.regression)
        stages = [Stage("stage1", mpcformer_stage1(w), args.stage1_steps),
                  Stage("stage2", mpcformer_stage2(w), args.stage2_steps)]
        stages = [s for s in stages if s.steps > 0]
    config = TrainerConfig(lr=args.lr, checkpoint_every=args.checkpoint_every, seed=args.seed)
    summary = distill(student, teacher, batches, stages, args.out, config, resume=args.resume)
    tokenizer.save_pretrained(summary["student"])
    last = {r["stage"]: r for r in summary["history"]}
    print(json.dumps({"student": summary["student"], "method": method, "recipe": args.recipe,
                      "steps": summary["steps"], "last": last}, indent=2))
    return 0
