"""``run_pipeline(config)``: DP teacher, MPC-friendly student, check under MPC, one report, in one output folder.

Order of work, and why:
1. settings and data are checked first (``validate``, ``read_data``: overlaps of public or held-out rows
   with private rows refused or dropped; labels; batch sizes), before any model loads;
2. the ledger is opened (a new one, or the one being resumed, refused if it counts other data) and the
   budget is planned over the ledger's events plus the phases still to run; an impossible budget is
   refused here, before the private data is touched;
3. each private phase is recorded in the ledger before it starts and marked completed after;
4. the student is saved at the top of ``OUT``, the check runs, the report is written.

``OUT`` then holds the student (``config.json``, weights, ``privformers_recipe.json``, tokenizer: ``privformers
classify / generate / serve --model OUT``), ``teacher/final`` (the DP teacher), ``pipeline_report.json`` and
``.txt``, and ``privacy_ledger.json`` (the data owner's record; not for publication).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from privformers.pipeline.budget import BudgetPlan, PhaseEvent, PhasePlan, plan
from privformers.pipeline.config import PipelineConfig, PipelineConfigError, validate
from privformers.pipeline.data import PipelineData, read_data
from privformers.pipeline.ledger import Ledger
from privformers.pipeline.report import privacy_report, write_report
from privformers.pipeline.teacher import TEACHER_DIR


def _log(message: str) -> None:
    print(f"[pipeline] {message}", file=sys.stderr, flush=True)


def check_rows(config: PipelineConfig, data: PipelineData) -> None:
    """What dp-train and DP distillation would refuse late: batches larger than the data, labels not 0..K-1."""
    n = len(data.private)
    if config.teacher.batch_size > n:
        raise PipelineConfigError(f"the teacher's expected batch ({config.teacher.batch_size}) is larger than the "
                                  f"{n} private rows")
    if config.student.data == "private" and config.student.batch_size > n:
        raise PipelineConfigError(f"the student's expected batch ({config.student.batch_size}) is larger than the "
                                  f"{n} private rows")
    if config.budget.delta >= 1 / n and not config.budget.non_private:
        raise PipelineConfigError(f"delta {config.budget.delta:g} is not below 1/N = {1 / n:.3g} for the {n} private "
                                  "rows: such a delta allows releasing a row outright")
    if config.task == "classification":
        classes = len({r.label for r in data.private})
        if max(r.label for r in data.private) >= classes:
            raise PipelineConfigError(f"private data: labels must be numbered 0 to K-1 ({classes} distinct labels)")
        if data.heldout and max(int(r.label) for r in data.heldout) >= classes:
            raise PipelineConfigError(f"held-out data: a label is not one of the {classes} labels of the private data")


def phases_to_run(config: PipelineConfig, ledger: Ledger, rows: int) -> list[PhasePlan]:
    """The private phases not yet completed (the teacher; the student when it trains on private rows)."""
    todo = []
    if ledger.completed("teacher") is None:
        t = config.teacher
        todo.append(PhasePlan("teacher", t.batch_size / rows, t.steps, t.batch_size))
    if config.student.data == "private" and ledger.completed("student") is None:
        s = config.student
        todo.append(PhasePlan("student", s.batch_size / rows, s.stage1_steps + s.stage2_steps, s.batch_size))
    return todo


def plan_budget(config: PipelineConfig, ledger: Ledger, rows: int) -> BudgetPlan | None:
    """Noise for the phases still to run so that the ledger's events and theirs compose to the target (None for
    the non-private baseline). With only the student left, it gets all that remains."""
    if config.budget.non_private:
        return None
    todo = phases_to_run(config, ledger, rows)
    b = config.budget
    fraction = b.student_fraction if len(todo) == 2 else 0.0
    return plan(b.target_epsilon, b.delta, b.accountant, todo, ledger.events(), fraction)


def run_pipeline(config: PipelineConfig) -> dict:
    """Run (or resume) the pipeline; return the report (also written to ``OUT``)."""
    import torch

    from privformers.pipeline.check import check
    from privformers.pipeline.student import train_student
    from privformers.pipeline.teacher import train_teacher

    validate(config)
    start = time.time()
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    data = read_data(config)
    check_rows(config, data)
    n = len(data.private)
    private = not config.budget.non_private
    ledger = Ledger.open(out, data.private_hashes, private, config.budget.delta if private else None, config.resume)
    budget = plan_budget(config, ledger, n)
    if budget is not None:
        planned = ", ".join(f"{e.phase} sigma {e.noise_multiplier:.4f} (q {e.sample_rate:.4g}, {e.steps} steps)"
                            for e in budget.planned)
        _log(f"budget: {planned or 'every private phase is done'} after {len(budget.spent_before)} recorded event(s)")
    times: dict[str, float] = {}

    def event(phase: str, sample_rate: float, steps: int) -> PhaseEvent:
        sigma = budget.noise_multiplier(phase) if budget is not None else None
        return PhaseEvent(phase, sample_rate, sigma, steps)

    teacher_dir = out / TEACHER_DIR / "final"
    if ledger.completed("teacher") is None:
        t0 = time.time()
        entry = ledger.record(event("teacher", config.teacher.batch_size / n, config.teacher.steps), n)
        _log(f"phase 1: teacher on {n} private rows (recorded in the ledger)")
        teacher_dir = train_teacher(config, entry.event(), out)
        ledger.complete(entry, str(teacher_dir.relative_to(out)))
        times["teacher_seconds"] = time.time() - t0
    student_done = (out / "privformers_recipe.json").is_file() and (
        config.student.data == "public" or ledger.completed("student") is not None)
    student_summary = {}
    if not student_done:
        t0 = time.time()
        if config.student.data == "private":
            s = config.student
            entry = ledger.record(event("student", s.batch_size / n, s.stage1_steps + s.stage2_steps), n)
            _log(f"phase 2: student on the {n} private rows with {'DP-SGD' if private else 'no noise'} (recorded)")
            student_summary = train_student(config, teacher_dir, data.private, out, entry.noise_multiplier)
            ledger.complete(entry, ".")
        else:
            _log(f"phase 2: student on {len(data.public)} public rows (no privacy cost)")
            student_summary = train_student(config, teacher_dir, data.public, out, None)
        times["student_seconds"] = time.time() - t0
    t0 = time.time()
    quality = check(config, out, teacher_dir, data.heldout)
    times["check_seconds"] = time.time() - t0
    times["total_seconds"] = time.time() - start
    report = {"pipeline": {"task": config.task, "model": config.model, "recipe": config.student.recipe,
                           "student_data": config.student.data, "student_method": config.student_method,
                           "out": str(out)},
              "privacy": privacy_report(ledger, config.budget.target_epsilon, config.budget.accountant,
                                        config.student.data),
              "data": data.summary(), "student": student_summary, "quality": quality, "times": times,
              "settings": {k: v for k, v in asdict(config).items() if k in ("teacher", "student", "check", "budget")}}
    write_report(out, report)
    return report
