"""``privformers dp-train``: differentially private fine-tuning of a Hugging Face model."""

from __future__ import annotations

import argparse
import json

from privformers.data import READERS
from privformers.dp.clipping import CLIPPING_MODES


def _check_inputs(args: argparse.Namespace) -> None:
    """Refuse missing files and a model that is neither a local folder nor a hub id available here."""
    from pathlib import Path

    for flag, path in (("--data", args.data), ("--eval-data", args.eval_data)):
        if path is not None and not Path(path).is_file():
            raise SystemExit(f"dp-train: {flag}: file not found: {path}")
    if not (Path(args.model) / "config.json").is_file():
        from transformers import AutoConfig

        try:  # a hub id: fine where the hub or its local cache has it
            AutoConfig.from_pretrained(args.model)
        except (OSError, ValueError) as exc:
            raise SystemExit(f"dp-train: no model at {args.model!r}: not a folder with config.json, and not a "
                             f"hub model available here ({exc})") from None


def _run(args: argparse.Namespace) -> int:
    from privformers.dp.train import train

    if not args.non_private and (args.target_epsilon is None) == (args.noise_multiplier is None):
        raise SystemExit("dp-train: give exactly one of --target-epsilon and --noise-multiplier "
                         "(or --non-private)")
    if args.ema is not None and not 0 < args.ema < 1:
        raise SystemExit(f"dp-train: --ema must be in (0, 1), got {args.ema}")
    if (args.steps is None) == (args.epochs is None):
        raise SystemExit("dp-train: give exactly one of --steps and --epochs")
    _check_inputs(args)
    final = train(args)
    print(json.dumps({k: v for k, v in final.items() if k != "training"}, indent=1))
    return 0


def register(subparsers) -> None:
    """Add the ``dp-train`` subcommand."""
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
    p.add_argument("--lm-data-task", default="e2e", choices=sorted(READERS),
                   help="lm: reader of --data/--eval-data; examples are 'source = target<eos>' as in train-lm")
    p.add_argument("--target-epsilon", type=float)
    p.add_argument("--noise-multiplier", type=float)
    p.add_argument("--target-delta", type=float, help="default 1 / N^1.1")
    p.add_argument("--non-private", action="store_true", help="baseline: no clipping, no noise")
    p.add_argument("--batch-size", type=int, default=256, help="expected (logical) batch size")
    p.add_argument("--max-physical-batch-size", type=int, default=32)
    p.add_argument("--steps", type=int)
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--lr-schedule", choices=("constant", "linear"), default="constant",
                   help="linear: warm up over --warmup-steps, then decay linearly to 0 at the last step. "
                        "Clipped gradients keep their size as the loss falls, so DP-Adam does not anneal "
                        "by itself the way non-private Adam does")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--max-grad-norm", type=float, default=0.1)
    p.add_argument("--clipping-mode", default="bk", choices=CLIPPING_MODES)
    p.add_argument("--accounting-mode", default="rdp", choices=["rdp", "pld"],
                   help="accountant used to find the noise multiplier (both are reported)")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="evaluate and save an exponential moving average of the trained parameters (e.g. 0.95); "
                   "post-processing of the private iterates, so no privacy cost; the last iterate's score is "
                   "reported too")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--freeze-embeddings", action="store_true",
                   help="do not train the input token embeddings (fewer noised dimensions)")
    p.add_argument("--trainable", metavar="REGEX",
                   help="train only parameters whose name matches REGEX (e.g. 'layer\\.[45]\\.|pooler|classifier'); "
                   "the rest is frozen: less compute and fewer noised dimensions")
    p.add_argument("--lora", type=int, metavar="RANK",
                   help="train rank-RANK LoRA adapters (needs peft) instead of the weights: the base is frozen "
                   "and far fewer coordinates are noised; checkpoints have the adapters merged in")
    p.add_argument("--lora-alpha", type=float, help="LoRA scaling numerator (default 2 * RANK)")
    p.add_argument("--lora-targets", metavar="REGEX",
                   help="full names of the Linear layers that get adapters (default: attention query and value "
                   "projections and the BERT pooler)")
    p.add_argument("--max-train-examples", type=int)
    p.add_argument("--max-eval-examples", type=int)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument("--bleu-mrs", type=int, default=0,
                   help="lm: BLEU of greedy generations for this many --eval-data sources (MRs) at the end")
    p.add_argument("--log-every", type=int, default=50, help="steps between epsilon/eval reports")
    p.add_argument("--save-every", type=int, default=0, help="steps between checkpoints (0: final only)")
    p.add_argument("--output-dir", default="dp-train-out")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="seed of the non-private baseline's batches")
    p.set_defaults(func=_run)
