"""CLI: ``privformers evaluate`` generates for a data split in plaintext and prints a metrics table."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

from privformers.cli.argtypes import fraction, name_list, positive_float, positive_int, strict_json
from privformers.data.registry import READERS
from privformers.data.splits import SPLIT_BY
from privformers.generation.many import mpc_generator, mpc_summary
from privformers.lm.evaluate import EvaluationResult, evaluate_generation
from privformers.metrics.names import ALL_METRICS, DEFAULT_METRICS


def register(subparsers) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="generate for a data split (plaintext, greedy) and print BLEU, chrF++, ROUGE-L, NIST, ...",
        description="Split the data by source (or by E2E restaurant name) as `privformers train-lm` does (same "
        "fractions and seed), greedy-generate one text per source, and score it against all references of that "
        "source. A model trained delexicalised gets its slot values back after decoding (in this process).",
    )
    p.add_argument(
        "--model", default=None, help="model folder (save_pretrained form); default: built-in E2E model"
    )
    p.add_argument("--data", required=True, help="data file, e.g. e2e/devset.csv")
    p.add_argument("--task", default="e2e", choices=sorted(READERS), help="data set reader (default e2e)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test", "all"])
    p.add_argument("--split-by", default="mr", choices=SPLIT_BY,
                   help="mr: split by MR (default); name: by E2E restaurant name, so the test names are unseen "
                        "(split as train-lm --split-by does)")
    p.add_argument("--validation-fraction", type=fraction, default=0.05)
    p.add_argument("--test-fraction", type=fraction, default=0.10)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--limit", type=positive_int, default=None, help="evaluate only the first N sources of the split")
    p.add_argument("--max-new-tokens", type=positive_int, default=96)
    p.add_argument(
        "--metrics",
        type=name_list(ALL_METRICS),
        default=",".join(DEFAULT_METRICS),
        help=f"comma-separated, from {', '.join(ALL_METRICS)} (default {','.join(DEFAULT_METRICS)}); ser: slot "
        "error rate (E2E: missing, wrong or invented slot values, by patterns); other-names: texts naming an E2E "
        "restaurant that is not the MR's name or near",
    )
    p.add_argument(
        "--bertscore-model", default=None, help="local encoder folder for BERTScore (adds bertscore)"
    )
    p.add_argument("--mpc", action="store_true",
                   help="generate under MPC (client, server and dealer as local processes over TLS, one "
                        "session for all sources) instead of in plaintext; adds the online cost per token")
    p.add_argument("--material-mb", type=positive_float, default=512.0,
                   help="--mpc: correlated material each party may hold ahead of the online pass (MB)")
    p.add_argument("--mpc-batch-size", type=positive_int, default=8,
                   help="--mpc: sources whose prompts have the same number of tokens share a secure pass, at "
                        "most this many (default 8; 1 runs each alone). Costs are each prompt's share of its pass")
    p.add_argument("--timeout", type=positive_float, default=7200.0, help="--mpc: seconds for the whole session")
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


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse now (ValueError) what would otherwise fail only after every source has been generated (hours with
    --mpc): a BERTScore encoder that is not there, and a --hypotheses-out that cannot be written."""
    if args.bertscore_model and not Path(args.bertscore_model).is_dir():
        raise ValueError(f"--bertscore-model: no such folder: {args.bertscore_model}")
    if args.hypotheses_out:
        target = Path(args.hypotheses_out)
        folder = target.parent
        if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"--hypotheses-out: cannot write {target} (its folder is missing or not writable, or "
                             "it is a folder)")


def run_evaluate(args: argparse.Namespace) -> int:
    """Run the evaluation; exit code 2 with a one-line message on bad input."""
    from privformers.lm import builtin_model_path

    metrics = list(args.metrics)
    if args.bertscore_model and "bertscore" not in metrics:
        metrics.append("bertscore")
    try:
        _check_paths(args)
        model = args.model or str(builtin_model_path())
        costs: list[dict] = []
        generate = None
        if args.mpc:
            generate = mpc_generator(model, args.material_mb, args.timeout, costs, args.mpc_batch_size)
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
            generate,
            split_by=args.split_by,
        )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"privformers evaluate: error: {error}", file=sys.stderr)
        return 2
    if args.hypotheses_out:
        with open(args.hypotheses_out, "w", encoding="utf-8") as handle:
            handle.writelines(h + "\n" for h in result.hypotheses)
    summary = {k: v for k, v in asdict(result).items() if k != "hypotheses"}
    if args.mpc:
        summary["mpc"] = mpc_summary(costs, args.max_new_tokens)
    if args.json:
        print(strict_json(summary, indent=2))
    else:
        print(format_table(result))
        if args.mpc:
            m = summary["mpc"]
            print(f"\nunder MPC: {m['prompts']} prompts x {args.max_new_tokens} steps in {m['passes']} passes; decode "
                  f"{m['decode_seconds_per_token']:.3f} s, {m['decode_bytes_per_token'] / 1e6:.2f} MB and "
                  f"{m['decode_rounds_per_token']:.0f} rounds per token (online, material streamed)")
    return 0
