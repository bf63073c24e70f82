"""CLI: ``privformers train-lm`` trains the small data-to-text GPT-2 or Llama (how the built-in models are rebuilt)."""

from __future__ import annotations

import argparse

from privformers.cli.argtypes import fraction, name_list, non_negative_int, positive_float, positive_int
from privformers.data.splits import SPLIT_BY
from privformers.lm.config import CLEANING, SELECTION, TrainConfig
from privformers.lm.delex import PLACEHOLDERS
from privformers.lm.model import ARCHS, ModelShape


def register(subparsers) -> None:
    """Add the ``train-lm`` subcommand."""
    defaults = TrainConfig(data="", out="")
    shape = ModelShape()
    p = subparsers.add_parser(
        "train-lm", help="train a small GPT-2 or Llama data-to-text model (e.g. the built-in E2E model)"
    )
    p.add_argument("--data", required=True, help="data file, e.g. e2e/devset.csv")
    p.add_argument(
        "--task", default=defaults.task, help="data set reader (see `privformers evaluate --help`)"
    )
    p.add_argument("--out", required=True, help="output folder (save_pretrained form)")
    p.add_argument("--split-by", default=defaults.split_by, choices=SPLIT_BY,
                   help="mr: no MR in two splits; name: no E2E restaurant name in two splits (tests unseen names); "
                        "name+mr: train on what is in neither test split, so both tests are fair (default mr)")
    p.add_argument("--delex", type=name_list(tuple(PLACEHOLDERS)), default=[],
                   help=f"comma-separated E2E slots whose values become placeholders in training and are put back "
                        f"after decoding (from {', '.join(PLACEHOLDERS)}; recorded in the model folder)")
    p.add_argument("--clean", default=defaults.clean, choices=CLEANING,
                   help="leave out training references that name another restaurant than their MR's "
                        "(other-names) or that have any slot error by the SER patterns (slot-errors)")
    p.add_argument("--validation-fraction", type=fraction, default=defaults.validation_fraction)
    p.add_argument("--test-fraction", type=fraction, default=defaults.test_fraction)
    p.add_argument("--split-seed", type=int, default=defaults.split_seed)
    p.add_argument("--vocab-size", type=positive_int, default=defaults.vocab_size)
    p.add_argument("--arch", default=shape.arch, choices=ARCHS,
                   help="gpt2 (learned positions, LayerNorm, GELU MLP 4 x hidden) or llama (rotary positions, "
                        "RMSNorm, gated SiLU MLP, grouped-query attention); embeddings tied (default gpt2)")
    p.add_argument("--layers", type=positive_int, default=shape.n_layer)
    p.add_argument("--hidden", type=positive_int, default=shape.n_embd)
    p.add_argument("--heads", type=positive_int, default=shape.n_head)
    p.add_argument("--kv-heads", type=positive_int, default=None,
                   help="llama: key/value heads, dividing --heads (default half the heads)")
    p.add_argument("--intermediate", type=positive_int, default=None,
                   help="llama: width of the gated MLP (default 3 x hidden)")
    p.add_argument("--context", type=positive_int, default=shape.n_positions)
    p.add_argument("--dropout", type=fraction, default=shape.dropout)
    p.add_argument("--epochs", type=positive_int, default=defaults.epochs)
    p.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    p.add_argument("--lr", type=positive_float, default=defaults.learning_rate)
    p.add_argument("--warmup-steps", type=non_negative_int, default=defaults.warmup_steps)
    p.add_argument("--eval-every", type=positive_int, default=defaults.eval_every)
    p.add_argument("--select", default=defaults.select, choices=SELECTION,
                   help="keep the checkpoint with the best validation BLEU, or BLEU minus slot error rate "
                        "(bleu-ser, E2E only: BLEU alone can prefer one that leaves slots out)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--threads", type=positive_int, default=defaults.threads, help="torch CPU threads")
    p.set_defaults(func=run_train_lm)


def run_train_lm(args: argparse.Namespace) -> int:
    """Build a TrainConfig from the arguments and train."""
    from pathlib import Path

    from privformers.lm.train import train_lm

    if not Path(args.data).is_file():
        raise SystemExit(f"train-lm: data file not found: {args.data}")
    if args.arch != "llama" and (args.kv_heads is not None or args.intermediate is not None):
        raise SystemExit("train-lm: --kv-heads and --intermediate are for --arch llama")
    try:
        shape = ModelShape(args.layers, args.hidden, args.heads, args.context, args.dropout, args.arch,
                           args.kv_heads, args.intermediate)
    except ValueError as exc:
        raise SystemExit(f"train-lm: {exc}") from None
    config = TrainConfig(
        data=args.data,
        out=args.out,
        task=args.task,
        split_by=args.split_by,
        delex=tuple(args.delex),
        clean=args.clean,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        split_seed=args.split_seed,
        vocab_size=args.vocab_size,
        shape=shape,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        select=args.select,
        seed=args.seed,
        threads=args.threads,
    )
    train_lm(config)
    return 0
