"""CLI: ``privformers evaluate`` generates for a data split in plaintext and prints a metrics table."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from privformers.data.evaluate import EvaluationResult, evaluate_generation
from privformers.data.registry import READERS
from privformers.metrics import ALL_METRICS, DEFAULT_METRICS


def register(subparsers) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="generate for a data split (plaintext, greedy) and print BLEU, chrF++, ROUGE-L, NIST, ...",
        description="Split the data by source as `privformers train-lm` does (same fractions and seed), "
        "greedy-generate one text per source, and score it against all references of that source.",
    )
    p.add_argument(
        "--model", default=None, help="model folder (save_pretrained form); default: built-in E2E model"
    )
    p.add_argument("--data", required=True, help="data file, e.g. e2e/devset.csv")
    p.add_argument("--task", default="e2e", choices=sorted(READERS), help="data set reader (default e2e)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test", "all"])
    p.add_argument("--validation-fraction", type=float, default=0.05)
    p.add_argument("--test-fraction", type=float, default=0.10)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N sources of the split")
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument(
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help=f"comma-separated, from {', '.join(ALL_METRICS)} (default {','.join(DEFAULT_METRICS)})",
    )
    p.add_argument(
        "--bertscore-model", default=None, help="local encoder folder for BERTScore (adds bertscore)"
    )
    p.add_argument("--hypotheses-out", default=None, help="write the generated texts here, one a line")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run_evaluate)


def format_table(result: EvaluationResult) -> str:
    """A plain-text table of the scores and the metrics that could not run."""
    lines = [
        f"model   {result.model}",
        f"data    {result.task} / {result.split}: {result.sources} sources, {result.references} references",
        "",
        f"{'metric':<10} {'score':>8}",
    ]
    lines += [f"{name:<10} {value:>8.2f}" for name, value in result.scores.items()]
    lines += [f"{name:<10} {'n/a':>8}  ({why})" for name, why in result.unavailable.items()]
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run the evaluation; exit code 2 with a one-line message on bad input."""
    from privformers.lm import builtin_model_path

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.bertscore_model and "bertscore" not in metrics:
        metrics.append("bertscore")
    try:
        model = args.model or str(builtin_model_path())
        result = evaluate_generation(
            model,
            args.data,
            args.task,
            args.split,
            args.validation_fraction,
            args.test_fraction,
            args.split_seed,
            args.limit,
            args.max_new_tokens,
            metrics,
            args.bertscore_model,
        )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"privformers evaluate: error: {error}", file=sys.stderr)
        return 2
    if args.hypotheses_out:
        with open(args.hypotheses_out, "w", encoding="utf-8") as handle:
            handle.writelines(h + "\n" for h in result.hypotheses)
    if args.json:
        print(json.dumps({k: v for k, v in asdict(result).items() if k != "hypotheses"}, indent=2))
    else:
        print(format_table(result))
    return 0
