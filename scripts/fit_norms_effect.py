"""How far a converted student starts from its teacher, with THE-X's gamma/beta start vs fit_affine_norms.

Prints the teacher-forced LM loss (cross-entropy per token) of the teacher and of each converted,
untrained student on held-out batches, before and after fitting its affine norms on training batches.
    usage: python scripts/fit_norms_effect.py TEACHER_DIR E2E_CSV [FIT_BATCHES]
"""

from __future__ import annotations

import json
import sys

import torch
from transformers import AutoTokenizer

from privformers.approx import approximate, fit_affine_norms, load_student
from privformers.distill.data import lm_batches


def loss(model: torch.nn.Module, batches: list[dict]) -> float:
    model.eval()
    with torch.no_grad():
        return sum(float(model(**b).loss) for b in batches) / len(batches)


def main(teacher_dir: str, data: str, fit_batches: int = 20) -> None:
    torch.set_num_threads(1)
    teacher = load_student(teacher_dir)
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    train = lm_batches(tokenizer, "e2e", data, 16, 128, None, "train", 0.05, 0.10, 0)
    held = lm_batches(tokenizer, "e2e", data, 16, 128, None, "validation", 0.05, 0.10, 0)[:20]
    rows = {"teacher": loss(teacher, held)}
    for recipe in ("thex", "merge-quad-affine"):
        student = approximate(teacher, recipe)
        rows[f"{recipe}, gamma/beta start"] = loss(student, held)
        fit_affine_norms(student, teacher, train[:fit_batches])
        rows[f"{recipe}, fitted norms"] = loss(student, held)
    print(json.dumps({"fit_batches": fit_batches, "held_out_batches": len(held), "loss": rows}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
