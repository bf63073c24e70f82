"""CLI: ``privformers classify`` classifies text under MPC (client sentences, server classifier), or
measures a classifier's accuracy on a labelled file under MPC next to plaintext."""

from __future__ import annotations

import argparse
import sys

from privformers.cli.argtypes import frac_bits, positive_float, positive_int, secret_text, strict_json
from privformers.data.registry import CLASSIFICATION_READERS


def register(subparsers) -> None:
    """Add the ``classify`` subcommand."""
    p = subparsers.add_parser(
        "classify", help="private text classification under MPC (and accuracy on a labelled file)",
        description="Run a sequence classifier (save_pretrained folder, or a distilled student) on the client's "
        "texts under MPC: client, server and dealer as local processes over TLS. The server learns each "
        "text's length in tokens and nothing else (texts of equal length share a pass). With --data, "
        "report accuracy under MPC and in plaintext on the same rows, and how often the two predictions "
        "agree.")
    p.add_argument("--model", required=True, help="classifier folder (with its tokenizer)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", action="append", type=secret_text, help="a text to classify (repeatable; not empty)")
    src.add_argument("--data", help="labelled file (TSV sentence<TAB>label, read by --reader)")
    p.add_argument("--reader", default="sst2", choices=sorted(CLASSIFICATION_READERS), help="reader of --data")
    p.add_argument("--limit", type=positive_int, help="--data: only the first N rows")
    p.add_argument("--plaintext-all", action="store_true",
                   help="--data: also report plaintext accuracy on every row of the file")
    p.add_argument("--max-length", type=positive_int, default=128)
    p.add_argument("--material-mb", type=positive_float, default=512.0,
                   help="correlated material each party may hold ahead of the online pass (MB)")
    p.add_argument("--batch-size", type=positive_int, default=8,
                   help="at most this many texts of equal length in tokens share one secure pass (1: one pass each)")
    p.add_argument("--timeout", type=positive_float, default=7200.0)
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads for the plaintext reference")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_classify)


def run_classify(a: argparse.Namespace) -> int:
    """Classify under MPC; with --data, accuracies and agreement; exit 2 on bad input."""
    import torch

    from privformers.data.registry import read_labelled
    from privformers.models.load import ModelNotFoundError
    from privformers.secure.classify import load_classifier, mpc_classify, plain_classify

    torch.set_num_threads(a.threads)
    try:
        if a.data:  # read first: a malformed file is refused before the model loads
            rows = read_labelled(a.reader, a.data)
            texts, labels = [r.text for r in rows], [int(r.label) for r in rows]
        else:
            texts, labels = a.text, None
        if a.limit is not None:
            texts, labels = texts[:a.limit], None if labels is None else labels[:a.limit]
        if not texts:
            raise ValueError("no texts to classify")
        model, tokenizer = load_classifier(a.model)
        results = mpc_classify(a.model, tokenizer, texts, a.max_length, a.timeout, a.frac_bits, a.material_mb,
                               a.batch_size)
    except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
        print(f"privformers classify: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"privformers classify: {exc}", file=sys.stderr)
        return 1
    mpc_pred = [max(range(len(r["logits"])), key=r["logits"].__getitem__) for r in results]
    plain = plain_classify(model, tokenizer, texts, a.max_length)
    plain_pred = plain.argmax(-1).tolist()
    out: dict = {"model": a.model, "rows": len(texts),
                 "online_seconds_per_text": sum(r["seconds"] for r in results) / len(results),
                 "online_bytes_per_text": sum(r["online_bytes"] for r in results) / len(results),
                 "rounds_per_text": sum(r["rounds"] for r in results) / len(results),
                 "passes": round(sum(1 / r["batch"] for r in results)),
                 "mpc_plaintext_agreement": sum(p == q for p, q in zip(mpc_pred, plain_pred)) / len(texts),
                 "max_abs_logit_error": max(float((torch.tensor(r["logits"]) - plain[i]).abs().max())
                                            for i, r in enumerate(results))}
    if labels is not None:
        out["mpc_accuracy"] = sum(p == y for p, y in zip(mpc_pred, labels)) / len(labels)
        out["plaintext_accuracy"] = sum(p == y for p, y in zip(plain_pred, labels)) / len(labels)
        if a.plaintext_all:
            every = read_labelled(a.reader, a.data)
            pred = plain_classify(model, tokenizer, [r.text for r in every], a.max_length).argmax(-1).tolist()
            out["plaintext_accuracy_all"] = sum(p == int(r.label) for p, r in zip(pred, every)) / len(every)
            out["plaintext_rows_all"] = len(every)
    else:
        out["predictions"] = [{"text": t, "label": p, "logits": r["logits"]}
                              for t, p, r in zip(texts, mpc_pred, results)]
    if a.json:
        print(strict_json(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:<28} {v}")
    return 0
