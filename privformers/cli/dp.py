"""``privformers dp-train``: differentially private fine-tuning of a Hugging Face model.

The options become a ``DPTrainConfig`` (``privformers.dp.config``, whose defaults they share) for
``privformers.dp.train.train``. Every option is checked before the tokenizer or the model loads: numbers
by their argparse type (``privformers.cli.argtypes``), combinations, files and the data's rows here; a problem ends the
command with one line ``privformers dp-train: error: ...`` and exit status 2. An error about a data
row names the file and line and what is wrong with it, never the row's content (training data is
what DP protects).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from privformers.cli.argtypes import (
    non_negative_float,
    non_negative_int,
    open_unit_float,
    positive_float,
    positive_int,
    regex,
    strict_json,
    usage_error,
)
from privformers.data import READERS
from privformers.dp.clipping import CLIPPING_MODES
from privformers.dp.config import DPTrainConfig

COMMAND = "dp-train"


def _check_options(args: argparse.Namespace) -> None:
    """Refuse contradictory or incomplete combinations of options (each number was checked when parsed)."""
    if args.non_private and (args.target_epsilon is not None or args.noise_multiplier is not None):
        usage_error(COMMAND, "--non-private trains without clipping or noise: drop --target-epsilon and "
                    "--noise-multiplier")
    if not args.non_private and (args.target_epsilon is None) == (args.noise_multiplier is None):
        usage_error(COMMAND, "give exactly one of --target-epsilon and --noise-multiplier (or --non-private)")
    if (args.steps is None) == (args.epochs is None):
        usage_error(COMMAND, "give exactly one of --steps and --epochs")
    if args.steps is not None and args.warmup_steps and args.warmup_steps >= args.steps:
        usage_error(COMMAND, f"--warmup-steps must be below --steps ({args.steps}), got {args.warmup_steps}")
    if args.lora and (args.trainable or args.freeze_embeddings):
        usage_error(COMMAND, "--lora trains only the adapters (and a classification head): drop --trainable "
                    "and --freeze-embeddings")
    if (args.lora_alpha is not None or args.lora_targets) and not args.lora:
        usage_error(COMMAND, "--lora-alpha and --lora-targets need --lora RANK")
    if args.nproc > 1 and args.non_private and args.batch_size < args.nproc:
        usage_error(COMMAND, f"--non-private --nproc {args.nproc} splits fixed batches over the processes: "
                    f"--batch-size must be at least {args.nproc}")
    if args.bleu_mrs and (args.task != "lm" or not args.eval_data):
        usage_error(COMMAND, "--bleu-mrs scores generations for --eval-data sources: it needs --task lm and "
                    "--eval-data")


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse missing or unreadable files and a model that is neither a local folder nor a hub id available here."""
    for flag, path in (("--data", args.data), ("--eval-data", args.eval_data)):
        if path is None:
            continue
        if not Path(path).is_file():
            usage_error(COMMAND, f"{flag}: file not found: {path}")
        if not os.access(path, os.R_OK):
            usage_error(COMMAND, f"{flag}: file not readable: {path}")
    if not (Path(args.model) / "config.json").is_file():
        from transformers import AutoConfig

        try:  # a hub id: fine where the hub or its local cache has it
            AutoConfig.from_pretrained(args.model)
        except (OSError, ValueError) as exc:
            usage_error(COMMAND, f"no model at {args.model!r}: not a folder with config.json, and not a hub model "
                        f"available here ({exc})")


def _read_rows(args: argparse.Namespace, flag: str, path: str) -> list:
    """The labels (classification) or pairs (lm) of a data file; a malformed file is a usage error that names
    the file and, where the reader knows it, the line and what is wrong, never the content."""
    from privformers.data import read_pairs
    from privformers.dp.datasets import read_classification_tsv

    try:
        if args.task == "classification":
            return read_classification_tsv(path)[1]
        return read_pairs(args.lm_data_task, path)
    except (ValueError, RuntimeError, OSError) as exc:  # DataFormatError: the file, line and problem only
        usage_error(COMMAND, f"{flag}: {exc}")


def _check_data(args: argparse.Namespace) -> None:
    """Read the data files before anything loads: malformed rows, too few examples for a batch, and labels that a
    classification head cannot hold are refused now, not after the model has loaded (or steps in)."""
    rows = _read_rows(args, "--data", args.data)
    if args.max_train_examples:
        rows = rows[:args.max_train_examples]
    n = len(rows)
    if args.batch_size > n:
        usage_error(COMMAND, f"--batch-size {args.batch_size} is larger than the {n} training examples")
    eval_rows = _read_rows(args, "--eval-data", args.eval_data) if args.eval_data else []
    if args.task == "classification":
        classes = len(set(rows))
        if max(rows) >= classes:
            usage_error(COMMAND, f"--data: labels must be numbered 0 to K-1: {classes} distinct labels, the largest "
                        f"{max(rows)}")
        if eval_rows and max(eval_rows) >= classes:
            usage_error(COMMAND, f"--eval-data: a label is not one of the {classes} labels of --data "
                        f"(0 to {classes - 1})")


def _run(args: argparse.Namespace) -> int:
    from privformers.dp.distributed import launched_world

    world = launched_world()
    if world > 1 and args.nproc not in (1, world):
        usage_error(COMMAND, f"--nproc {args.nproc} under a launcher that started {world} processes: drop --nproc")
    _check_options(args)
    _check_inputs(args)   # before any process starts (with --nproc), and by each rank under a launcher
    _check_data(args)
    if args.nproc > 1 and world == 1:
        from privformers.dp.launch import launch

        code = launch(args.nproc, args.argv, args.threads)
        if code != 0:
            print(f"privformers dp-train: error: the {args.nproc}-process run failed (exit status {code}); "
                  "the failing rank's error is above", file=sys.stderr)
        return code
    from privformers.dp.train import train

    final = train(train_config(args))
    if final is not None:  # rank 0
        print(strict_json({k: v for k, v in final.items() if k != "training"}, indent=1))
    return 0


def train_config(args: argparse.Namespace) -> DPTrainConfig:
    """The run's ``DPTrainConfig`` from the parsed options (the options only the command uses, such as
    ``--nproc``, stay out)."""
    return DPTrainConfig(**{f.name: getattr(args, f.name) for f in fields(DPTrainConfig)})


def register(subparsers) -> None:
    """Add the ``dp-train`` subcommand (its defaults are ``DPTrainConfig``'s)."""
    D = DPTrainConfig
    p = subparsers.add_parser("dp-train", help="differentially private fine-tuning (DP-Adam)",
                              description="Fine-tune a Hugging Face model with DP-Adam; Poisson sampling, "
                              "per-example clipping, Gaussian noise, RDP and PLD accounting.")
    p.add_argument("--model", required=True, help="folder loadable with from_pretrained")
    p.add_argument("--tokenizer", help="tokenizer folder (default: --model)")
    p.add_argument("--random-init", action="store_true", help="random weights from the model's config")
    p.add_argument("--data", required=True, help="training file: classification TSV 'sentence<TAB>label', "
                   "or for lm a data-to-text file read by --lm-data-task (e.g. E2E CSV mr,ref)")
    p.add_argument("--eval-data", help="validation file in the same format (accuracy, or lm loss and BLEU)")
    p.add_argument("--task", required=True, choices=["lm", "classification"])
    p.add_argument("--lm-data-task", default=D.lm_data_task, choices=sorted(READERS),
                   help="lm: reader of --data/--eval-data; examples are 'source = target<eos>' as in train-lm")
    p.add_argument("--target-epsilon", type=positive_float)
    p.add_argument("--noise-multiplier", type=non_negative_float,
                   help="0 adds no noise (clipping only): the run is then reported as not private")
    p.add_argument("--target-delta", type=open_unit_float, help="default 1 / N^1.1")
    p.add_argument("--non-private", action="store_true", help="baseline: no clipping, no noise")
    p.add_argument("--batch-size", type=positive_int, default=D.batch_size, help="expected (logical) batch size")
    p.add_argument("--max-physical-batch-size", type=positive_int, default=D.max_physical_batch_size)
    p.add_argument("--steps", type=positive_int)
    p.add_argument("--epochs", type=positive_float)
    p.add_argument("--lr", type=positive_float, default=D.lr)
    p.add_argument("--lr-schedule", choices=("constant", "linear"), default=D.lr_schedule,
                   help="linear: warm up over --warmup-steps, then decay linearly to 0 at the last step. "
                        "Clipped gradients keep their size as the loss falls, so DP-Adam does not anneal "
                        "by itself the way non-private Adam does")
    p.add_argument("--warmup-steps", type=non_negative_int, default=D.warmup_steps)
    p.add_argument("--max-grad-norm", type=positive_float, default=D.max_grad_norm)
    p.add_argument("--clipping-mode", default=D.clipping_mode, choices=CLIPPING_MODES)
    p.add_argument("--accounting-mode", default=D.accounting_mode, choices=["rdp", "pld"],
                   help="accountant used to find the noise multiplier (both are reported)")
    p.add_argument("--ema", type=open_unit_float, metavar="DECAY",
                   help="evaluate and save an exponential moving average of the trained parameters (e.g. 0.95); "
                   "post-processing of the private iterates, so no privacy cost; the last iterate's score is "
                   "reported too")
    p.add_argument("--max-length", type=positive_int, default=D.max_length)
    p.add_argument("--freeze-embeddings", action="store_true",
                   help="do not train the input token embeddings (fewer noised dimensions)")
    p.add_argument("--trainable", type=regex, metavar="REGEX",
                   help="train only parameters whose name matches REGEX (e.g. 'layer\\.[45]\\.|pooler|classifier'); "
                   "the rest is frozen: less compute and fewer noised dimensions")
    p.add_argument("--lora", type=positive_int, metavar="RANK",
                   help="train rank-RANK LoRA adapters (needs peft) instead of the weights: the base is frozen "
                   "and far fewer coordinates are noised; checkpoints have the adapters merged in")
    p.add_argument("--lora-alpha", type=positive_float, help="LoRA scaling numerator (default 2 * RANK)")
    p.add_argument("--lora-targets", type=regex, metavar="REGEX",
                   help="full names of the Linear layers that get adapters (default: attention query and value "
                   "projections and the BERT pooler)")
    p.add_argument("--max-train-examples", type=positive_int)
    p.add_argument("--max-eval-examples", type=positive_int)
    p.add_argument("--eval-batch-size", type=positive_int, default=D.eval_batch_size)
    p.add_argument("--bleu-mrs", type=non_negative_int, default=D.bleu_mrs,
                   help="lm: BLEU of greedy generations for this many --eval-data sources (MRs) at the end")
    p.add_argument("--log-every", type=positive_int, default=D.log_every, help="steps between epsilon/eval reports")
    p.add_argument("--save-every", type=non_negative_int, default=D.save_every,
                   help="steps between checkpoints (0: final only)")
    p.add_argument("--output-dir", default=D.output_dir)
    p.add_argument("--threads", type=positive_int, default=D.threads, help="torch threads per process")
    p.add_argument("--nproc", type=positive_int, default=1,
                   help="data-parallel processes on this machine, started with torchrun (gloo on the CPU, NCCL "
                   "with one GPU each): each clips its share of every logical batch, the noise is drawn once "
                   "per coordinate; --batch-size stays the logical batch and epsilon is unchanged. Under "
                   "torchrun or accelerate launch, leave it out")
    p.add_argument("--seed", type=int, default=D.seed, help="seed of the non-private baseline's batches")
    p.set_defaults(func=_run)
