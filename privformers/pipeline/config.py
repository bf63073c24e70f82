"""The pipeline's settings as small typed dataclasses, and the checks that run before anything loads.

``PipelineConfig`` holds one of each: ``TeacherConfig`` (phase 1, DP fine-tuning with dp-train),
``StudentConfig`` (phase 2, distillation on public rows or with DP-SGD on the private rows),
``CheckConfig`` (phase 3, the student under MPC on held-out rows) and ``BudgetConfig`` (the total
epsilon, delta, the accountant that calibrates, and the student's share). ``validate`` refuses
contradictions and missing files with one clear sentence (``PipelineConfigError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from privformers.pipeline.budget import ACCOUNTANTS
from privformers.pipeline.overlap import OVERLAP_POLICIES

TASKS = ("classification", "lm")
STUDENT_DATA = ("public", "private")
DEFAULT_READERS = {"classification": "sst2", "lm": "e2e"}


class PipelineConfigError(ValueError):
    """Settings that contradict each other, or a file that is not there."""


@dataclass(frozen=True)
class TeacherConfig:
    """Phase 1: DP fine-tuning of the teacher on the private rows (dp-train's options of the same names)."""

    batch_size: int = 256               # expected (Poisson) batch
    steps: int = 100
    lr: float = 5e-4
    max_grad_norm: float = 0.1
    max_length: int = 64
    max_physical_batch_size: int = 32
    trainable: str | None = None        # regex of trained parameter names (the rest frozen)
    lora: int | None = None             # LoRA rank (needs peft); adapters merged into the saved teacher
    freeze_embeddings: bool = False
    clipping_mode: str = "bk"
    lr_schedule: str = "constant"
    warmup_steps: int = 0


@dataclass(frozen=True)
class StudentConfig:
    """Phase 2: the MPC-friendly student (``recipe``), distilled from the DP teacher on ``data``.

    ``public``: the teacher's outputs on public rows, post-processing of a DP model (no privacy cost).
    ``private``: on the private rows with DP-SGD (MPCFormer's objectives per example, Poisson batches
    of expected size ``batch_size``, clipped at ``max_grad_norm``); its events compose with the teacher's."""

    recipe: str = "mpcformer-quad-2quad"
    data: str = "public"
    method: str | None = None           # mpcformer | merge (default: merge for merge* recipes on lm)
    stage1_steps: int = 100
    stage2_steps: int = 100
    batch_size: int = 16
    lr: float = 1e-4
    max_length: int = 64
    max_grad_norm: float = 1.0          # private only
    max_physical_batch_size: int = 32   # private only
    fit_norms: int = 0                  # public only: least-squares fit of affine norms on this many batches


@dataclass(frozen=True)
class CheckConfig:
    """Phase 3: the student (and the teacher in plaintext) on held-out rows; under MPC on the first ``rows``."""

    data: str | None = None             # held-out file (default: none, no check)
    rows: int = 300                     # rows (classification) or sources (lm) run under MPC
    mpc: bool = True
    teacher_mpc: bool = False           # also run the exact teacher under MPC (slower)
    max_new_tokens: int = 48
    max_length: int = 64
    batch_size: int = 8                 # equal-length rows per secure pass
    material_mb: float = 512.0
    timeout: float = 7200.0
    metrics: tuple[str, ...] = ("bleu", "chrf++", "rouge-l")


@dataclass(frozen=True)
class BudgetConfig:
    """The privacy budget of the whole run: epsilon at delta, the calibrating accountant, the student's share."""

    target_epsilon: float | None = 8.0
    delta: float = 1e-5
    accountant: str = "rdp"
    student_fraction: float = 0.0       # private student only: its share of the budget
    non_private: bool = False           # the baseline: no clipping, no noise, no guarantee


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline run: the starting model, the three data files, the output folder and each phase's settings."""

    task: str
    model: str
    private_data: str
    out: str
    public_data: str | None = None
    reader: str | None = None           # data reader (default sst2 for classification, e2e for lm)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    overlap: str = "refuse"             # refuse | drop (public and held-out rows equal to private rows)
    resume: bool = False
    threads: int = 1
    seed: int = 0

    @property
    def data_reader(self) -> str:
        """The reader of every data file."""
        return self.reader or DEFAULT_READERS[self.task]

    @property
    def student_method(self) -> str:
        """MPCFormer's two stages, or MERGE's objective (merge* recipes on lm by default)."""
        if self.student.method:
            return self.student.method
        return "merge" if self.task == "lm" and self.student.recipe.startswith("merge") else "mpcformer"


def validate(config: PipelineConfig) -> None:
    """Refuse contradictory settings and missing files before any data or model loads."""
    from privformers.approx import RECIPES
    from privformers.data.registry import CLASSIFICATION_READERS, READERS

    b, s, t, c = config.budget, config.student, config.teacher, config.check

    def need(condition: bool, message: str) -> None:
        if not condition:
            raise PipelineConfigError(message)

    need(config.task in TASKS, f"task must be one of {TASKS}, got {config.task!r}")
    readers = CLASSIFICATION_READERS if config.task == "classification" else READERS
    need(config.data_reader in readers, f"unknown reader {config.data_reader!r} for {config.task}; known: "
         f"{', '.join(sorted(readers))}")
    need(config.task == "lm" or config.data_reader == "sst2",
         "classification: the private file is read as dp-train reads it (TSV sentence<TAB>label): use reader sst2")
    for name, path in (("private data", config.private_data), ("public data", config.public_data),
                       ("held-out data", c.data)):
        need(path is None or Path(path).is_file(), f"{name}: file not found: {path}")
    need(s.recipe in RECIPES, f"unknown recipe {s.recipe!r}; known: {', '.join(sorted(RECIPES))}")
    need(s.data in STUDENT_DATA, f"student data must be one of {STUDENT_DATA}, got {s.data!r}")
    need(config.student_method in ("mpcformer", "merge"), f"unknown method {config.student_method!r}")
    need(config.student_method == "mpcformer" or config.task == "lm", "the merge method trains a generation "
         "student: use task lm")
    need(s.data == "public" or config.student_method == "mpcformer", "a student distilled on the private rows is "
         "trained with MPCFormer's objectives (per-example losses for DP-SGD); MERGE's is not supported there")
    need(s.data == "private" or config.public_data is not None, "the student is distilled on public data: give the "
         "public data file (or distil on the private data, with DP)")
    need(not (s.fit_norms and s.data == "private"), "fitting affine norms reads its batches without noise: it is "
         "only offered with public-data distillation")
    need(s.stage1_steps + s.stage2_steps > 0, "the student has no distillation steps")
    need(config.overlap in OVERLAP_POLICIES, f"overlap policy must be one of {OVERLAP_POLICIES}")
    need(b.accountant in ACCOUNTANTS, f"accountant must be one of {ACCOUNTANTS}, got {b.accountant!r}")
    need(0 < b.delta < 1, f"delta must be in (0, 1), got {b.delta}")
    if b.non_private:
        need(b.target_epsilon is None, "the non-private baseline has no epsilon: drop the target epsilon")
        need(not b.student_fraction, "the non-private baseline has no budget to split")
    else:
        need(b.target_epsilon is not None and b.target_epsilon > 0, "give a target epsilon > 0 (or run the "
             "non-private baseline)")
        if s.data == "public":
            need(not b.student_fraction, "a student distilled on public data spends no privacy: its fraction of the "
                 "budget must be 0 (the teacher gets the whole budget)")
        else:
            need(0 < b.student_fraction < 1, "a student distilled on the private data with DP needs a fraction of "
                 f"the budget in (0, 1), got {b.student_fraction}")
    for name, value in (("teacher batch size", t.batch_size), ("teacher steps", t.steps),
                        ("student batch size", s.batch_size), ("held-out rows", c.rows), ("threads", config.threads)):
        need(value >= 1, f"{name} must be >= 1, got {value}")
    need(not (t.lora and (t.trainable or t.freeze_embeddings)), "LoRA trains only the adapters: drop trainable and "
         "freeze_embeddings")
