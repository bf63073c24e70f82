"""Phase 3: the student on held-out rows, in plaintext and under MPC, with the teacher beside it in plaintext.

Classification: accuracy of the teacher and the student in plaintext on every held-out row and on the
first ``rows``; those rows again under MPC (``privformers.secure.classify.mpc_classify``: client, server
and dealer as local processes over TLS, equal-length texts sharing a pass), with the agreement of MPC
and plaintext predictions, the largest logit error and the online cost per row. Generation: greedy
texts of the first ``rows`` held-out sources under MPC (``mpc_generate``, prompts of equal length
batched, exactly ``max_new_tokens`` steps each), scored against their references next to the plaintext
texts of the teacher and the student, and the online cost per token. The held-out rows were checked
against the private rows (``overlap``), so these numbers are not statistics of private data.
Cost: dominated by MPC (MiniLM student on SST-2: about 2.5-5 s per text on two cores; built-in-size GPT-2
students: about 1-3 s per generated token per prompt, shared by the prompts of a pass).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from privformers.pipeline.config import PipelineConfig


def _accuracy(predictions: list[int], labels: list[int]) -> float:
    return sum(p == y for p, y in zip(predictions, labels)) / max(len(labels), 1)


def check_classifier(config: PipelineConfig, student_dir: Path, teacher_dir: Path, rows: list) -> dict:
    """Accuracies in plaintext (all rows and the first ``rows``) and under MPC, agreement and cost per row."""
    from privformers.secure.classify import load_classifier, mpc_classify, plain_classify

    c = config.check
    texts, labels = [r.text for r in rows], [int(r.label) for r in rows]
    n = min(c.rows, len(texts))
    out: dict = {"heldout_rows": len(texts), "rows": n}
    for name, folder in (("teacher", teacher_dir), ("student", student_dir)):
        model, tokenizer = load_classifier(folder)
        logits = plain_classify(model, tokenizer, texts, c.max_length)
        predictions = logits.argmax(-1).tolist()
        entry = {"plaintext_accuracy_all": _accuracy(predictions, labels),
                 "plaintext_accuracy": _accuracy(predictions[:n], labels[:n])}
        if c.mpc and (name == "student" or c.teacher_mpc):
            start = time.perf_counter()
            results = mpc_classify(folder, tokenizer, texts[:n], c.max_length, c.timeout,
                                   material_mb=c.material_mb, batch_size=c.batch_size)
            mpc = [max(range(len(r["logits"])), key=r["logits"].__getitem__) for r in results]
            entry.update({
                "mpc_accuracy": _accuracy(mpc, labels[:n]),
                "mpc_plaintext_agreement": _accuracy(mpc, predictions[:n]),
                "max_abs_logit_error": max(float((torch.tensor(r["logits"]) - logits[i]).abs().max())
                                           for i, r in enumerate(results)),
                "online_seconds_per_row": sum(r["seconds"] for r in results) / n,
                "online_bytes_per_row": sum(r["online_bytes"] for r in results) / n,
                "rounds_per_row": sum(r["rounds"] for r in results) / n,
                "passes": round(sum(1 / r["batch"] for r in results)),
                "wall_seconds": time.perf_counter() - start})
        out[name] = entry
    return out


def check_generator(config: PipelineConfig, student_dir: Path, teacher_dir: Path, rows: list) -> dict:
    """Scores of plaintext texts (teacher and student, every held-out source and the first ``rows``) and of the
    student's texts under MPC on the first ``rows`` sources, with the online cost per generated token."""
    from privformers.data.evaluate import load_causal_lm, mpc_generator, mpc_summary
    from privformers.data.examples import group_references
    from privformers.lm.generate import generate_texts
    from privformers.metrics.suite import compute_metrics

    c = config.check
    groups = group_references(rows)
    sources, references = [s for s, _ in groups], [r for _, r in groups]
    n = min(c.rows, len(groups))
    out: dict = {"heldout_sources": len(groups), "sources": n, "max_new_tokens": c.max_new_tokens}

    def scores(texts: list[str], refs: list[list[str]]) -> dict:
        return compute_metrics(texts, refs, c.metrics)[0]

    for name, folder in (("teacher", teacher_dir), ("student", student_dir)):
        model, tokenizer = load_causal_lm(folder)
        plain = generate_texts(model, tokenizer, sources, max_new_tokens=c.max_new_tokens, progress=False)
        entry = {"plaintext_all": scores(plain, references), "plaintext": scores(plain[:n], references[:n])}
        if c.mpc and (name == "student" or c.teacher_mpc):
            costs: list[dict] = []
            start = time.perf_counter()
            generate = mpc_generator(folder, c.material_mb, c.timeout, costs, c.batch_size)
            texts = generate(model, tokenizer, sources[:n], max_new_tokens=c.max_new_tokens)
            entry.update({"mpc": scores(texts, references[:n]),
                          "mpc_plaintext_same_text": sum(a == b for a, b in zip(texts, plain[:n])) / n,
                          "cost": mpc_summary(costs, c.max_new_tokens), "wall_seconds": time.perf_counter() - start})
        out[name] = entry
    return out


def check(config: PipelineConfig, student_dir: Path, teacher_dir: Path, rows: list) -> dict:
    """Phase 3 for the pipeline's task (an empty dict when there are no held-out rows)."""
    if not rows:
        return {}
    print(f"[pipeline] check: {'under MPC and ' if config.check.mpc else ''}in plaintext on held-out rows",
          file=sys.stderr, flush=True)
    if config.task == "classification":
        return check_classifier(config, student_dir, teacher_dir, rows)
    return check_generator(config, student_dir, teacher_dir, rows)
