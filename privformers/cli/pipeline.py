"""CLI: ``privformers pipeline``: DP fine-tuning, an MPC-friendly student, its check under MPC, one privacy report.

The options are parsed into ``PipelineConfig`` (``config_from_args``) and checked before anything loads;
a refusal (contradictory options, overlapping data, a ledger that does not fit, a budget the phases cannot
meet) ends the command with one line ``privformers pipeline: error: ...`` and exit status 2. No message
quotes a data row.
"""

from __future__ import annotations

import argparse
import sys

from privformers.cli.argtypes import (
    non_negative_int,
    open_unit_float,
    positive_float,
    positive_int,
    probability,
    regex,
    strict_json,
)

COMMAND = "pipeline"


def register(subparsers) -> None:
    """Add the ``pipeline`` subcommand."""
    p = subparsers.add_parser(
        COMMAND, help="DP fine-tuning, then an MPC-friendly student, then its check under MPC, with one privacy report",
        description="Fine-tune a teacher on private rows with DP (dp-train), distil an MPC-friendly student from it "
        "on public rows (no privacy cost) or on the private rows with DP-SGD (its events composed with the "
        "teacher's), check the student under MPC on held-out rows, and write one report with every phase's "
        "epsilon (RDP and PLD, dp-accounting) and the total. OUT loads as a model folder in classify, generate "
        "and serve. Public and held-out rows that equal private rows are refused (or left out: --drop-overlap); "
        "OUT/privacy_ledger.json counts every use of the private rows, and --resume adds to it.")
    p.add_argument("--task", required=True, choices=("classification", "lm"))
    p.add_argument("--model", required=True, help="starting model folder (save_pretrained, with tokenizer)")
    p.add_argument("--private-data", required=True, help="the private rows: TSV sentence<TAB>label, or for lm a "
                   "data-to-text file read by --reader")
    p.add_argument("--public-data", help="public rows the student is distilled on (--distill-on public)")
    p.add_argument("--eval-data", help="held-out rows for the check (plaintext and under MPC)")
    p.add_argument("--reader", help="data reader (default sst2 for classification, e2e for lm)")
    p.add_argument("--out", required=True, help="output folder: the student, teacher/, reports, the ledger")
    p.add_argument("--recipe", default="mpcformer-quad-2quad", help="the student's approximation recipe")
    b = p.add_argument_group("privacy budget")
    b.add_argument("--target-epsilon", type=positive_float, help="epsilon of the whole run (all phases composed)")
    b.add_argument("--delta", type=open_unit_float, default=1e-5, help="delta of the whole run (below 1/N)")
    b.add_argument("--accountant", choices=("rdp", "pld"), default="rdp",
                   help="the accountant the noise is calibrated with (both are reported)")
    b.add_argument("--distill-on", choices=("public", "private"), default="public",
                   help="public: distil on --public-data, no privacy cost; private: on the private rows with DP-SGD")
    b.add_argument("--distill-epsilon-fraction", type=probability, default=0.0,
                   help="--distill-on private: the student's share of the budget (the teacher may reach "
                   "(1 - F) * epsilon; the student gets the rest of the composed total)")
    b.add_argument("--non-private", action="store_true", help="the baseline: the same phases without clipping or noise")
    b.add_argument("--drop-overlap", action="store_true",
                   help="leave out public and held-out rows equal to private rows instead of refusing the run")
    b.add_argument("--resume", action="store_true", help="continue the run in OUT: its ledger's events are counted")
    t = p.add_argument_group("phase 1: the teacher (dp-train)")
    t.add_argument("--teacher-batch-size", type=positive_int, default=256, help="expected (Poisson) batch")
    t.add_argument("--teacher-steps", type=positive_int, default=100)
    t.add_argument("--teacher-lr", type=positive_float, default=5e-4)
    t.add_argument("--teacher-max-grad-norm", type=positive_float, default=0.1)
    t.add_argument("--teacher-max-length", type=positive_int, default=64)
    t.add_argument("--teacher-physical-batch-size", type=positive_int, default=32)
    t.add_argument("--teacher-trainable", type=regex, metavar="REGEX", help="train only matching parameters")
    t.add_argument("--teacher-lora", type=positive_int, metavar="RANK", help="LoRA adapters (needs peft)")
    t.add_argument("--teacher-freeze-embeddings", action="store_true")
    t.add_argument("--teacher-clipping-mode", default="bk", choices=("default", "ghost", "mixed", "bk"))
    t.add_argument("--teacher-lr-schedule", default="constant", choices=("constant", "linear"))
    t.add_argument("--teacher-warmup-steps", type=non_negative_int, default=0)
    s = p.add_argument_group("phase 2: the student (distillation)")
    s.add_argument("--distill-method", choices=("mpcformer", "merge"),
                   help="default: merge for merge* recipes on lm, else mpcformer")
    s.add_argument("--stage1-steps", type=non_negative_int, default=100, help="MPCFormer stage 1 (attention, hidden)")
    s.add_argument("--stage2-steps", type=non_negative_int, default=100, help="MPCFormer stage 2 (soft CE), or MERGE")
    s.add_argument("--distill-batch-size", type=positive_int, default=16,
                   help="batch (public), or expected Poisson batch (private)")
    s.add_argument("--distill-lr", type=positive_float, default=1e-4)
    s.add_argument("--distill-max-length", type=positive_int, default=64)
    s.add_argument("--distill-max-grad-norm", type=positive_float, default=1.0, help="private: clip norm")
    s.add_argument("--distill-physical-batch-size", type=positive_int, default=32, help="private: physical batch")
    s.add_argument("--fit-norms", type=non_negative_int, default=0, metavar="BATCHES",
                   help="public: fit affine norms on this many batches first (thex, merge-quad-affine)")
    c = p.add_argument_group("phase 3: the check on held-out rows")
    c.add_argument("--check-rows", type=positive_int, default=300,
                   help="held-out rows (classification) or sources (lm) run under MPC")
    c.add_argument("--no-mpc", action="store_true", help="plaintext only (no MPC session)")
    c.add_argument("--teacher-mpc", action="store_true", help="also run the exact teacher under MPC")
    c.add_argument("--max-new-tokens", type=positive_int, default=48, help="lm: tokens per source")
    c.add_argument("--check-max-length", type=positive_int, default=64, help="classification: tokens per text")
    c.add_argument("--check-batch-size", type=positive_int, default=8, help="equal-length rows per secure pass")
    c.add_argument("--material-mb", type=positive_float, default=512.0)
    c.add_argument("--timeout", type=positive_float, default=7200.0, help="seconds for each MPC session")
    c.add_argument("--metrics", default="bleu,chrf++,rouge-l", help="lm: comma-separated metrics")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0, help="seed of the public batches' order and the baseline's batches")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the text")
    p.set_defaults(func=run_command)


def config_from_args(a: argparse.Namespace):
    """The ``PipelineConfig`` of parsed options."""
    from privformers.pipeline.config import BudgetConfig, CheckConfig, PipelineConfig, StudentConfig, TeacherConfig

    return PipelineConfig(
        task=a.task, model=a.model, private_data=a.private_data, out=a.out, public_data=a.public_data,
        reader=a.reader, overlap="drop" if a.drop_overlap else "refuse", resume=a.resume, threads=a.threads,
        seed=a.seed,
        teacher=TeacherConfig(a.teacher_batch_size, a.teacher_steps, a.teacher_lr, a.teacher_max_grad_norm,
                              a.teacher_max_length, a.teacher_physical_batch_size, a.teacher_trainable, a.teacher_lora,
                              a.teacher_freeze_embeddings, a.teacher_clipping_mode, a.teacher_lr_schedule,
                              a.teacher_warmup_steps),
        student=StudentConfig(a.recipe, a.distill_on, a.distill_method, a.stage1_steps, a.stage2_steps,
                              a.distill_batch_size, a.distill_lr, a.distill_max_length, a.distill_max_grad_norm,
                              a.distill_physical_batch_size, a.fit_norms),
        check=CheckConfig(a.eval_data, a.check_rows, not a.no_mpc, a.teacher_mpc, a.max_new_tokens, a.check_max_length,
                          a.check_batch_size, a.material_mb, a.timeout,
                          tuple(m.strip() for m in a.metrics.split(",") if m.strip())),
        budget=BudgetConfig(a.target_epsilon, a.delta, a.accountant, a.distill_epsilon_fraction, a.non_private))


def run_command(a: argparse.Namespace) -> int:
    """Run the pipeline; exit 2 with one line on a refusal, 1 when an MPC session fails."""
    from privformers.data.errors import DataFormatError
    from privformers.models.load import ModelNotFoundError
    from privformers.pipeline import BudgetError, LedgerError, OverlapError, PipelineConfigError
    from privformers.pipeline.run import run_pipeline

    refusals = (PipelineConfigError, OverlapError, LedgerError, BudgetError, DataFormatError, ModelNotFoundError,
                FileNotFoundError)
    try:
        report = run_pipeline(config_from_args(a))
    except refusals as exc:   # each says what is wrong and where, never a data row
        print(f"privformers {COMMAND}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"privformers {COMMAND}: {exc}", file=sys.stderr)
        return 1
    if a.json:
        print(strict_json(report, indent=1))
    else:
        from privformers.pipeline.report import format_report

        print(format_report(report))
    return 0
