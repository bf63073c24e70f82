"""``privformers bench forward``: online cost of one secure forward pass (e.g. BERT-base at 128 tokens)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forward", help="one secure forward pass of a random-weight model (parties as processes)")
    p.add_argument("--arch", choices=("bert", "gpt2"), default="bert")
    p.add_argument("--size", choices=("tiny", "small", "base", "minilm"), default="tiny",
                   help="minilm: the shape of all-MiniLM-L6-v2 (BERT only)")
    p.add_argument("--recipe", default=None,
                   help="approximation recipe applied to the model (e.g. mpcformer-quad-2quad); default exact")
    p.add_argument("--random-weights", action="store_true", required=True,
                   help="seeded random weights of the named size (the only mode offline)")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frac-bits", type=int, default=16)
    p.add_argument("--material-budget-mb", type=float, default=None,
                   help="stream the correlated material: each party makes it in a second thread at most this "
                        "many MB ahead of the online pass (bounded memory; the online time then includes "
                        "waiting for material). Default: all material is made before the online pass")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run_forward)


def _run_forward(a: argparse.Namespace) -> int:
    from privformers.generation.report import breakdown
    from privformers.mpc.launch import LaunchError, launch_local

    args = {"arch": a.arch, "size": a.size, "seed": a.seed, "seq_len": a.seq_len}
    if a.recipe:
        from privformers.approx.recipes import get_recipe

        try:
            get_recipe(a.recipe)
        except ValueError as exc:
            print(f"bench forward: {exc}", file=sys.stderr)
            return 2
        args["recipe"] = a.recipe
    if a.size == "minilm" and a.arch != "bert":
        print("bench forward: --size minilm is a BERT shape (use --arch bert)", file=sys.stderr)
        return 2
    if a.material_budget_mb is not None:
        if a.material_budget_mb <= 0:
            print("--material-budget-mb must be > 0", file=sys.stderr)
            return 2
        args["material_budget"] = int(a.material_budget_mb * 2**20)
    try:
        reports = launch_local("forward", args, a.timeout, a.frac_bits)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    c, s = reports["client"], reports["server"]
    out = {"seconds": c["result"]["seconds"],
           "online_bytes": c["meter"]["online_bytes"] + s["meter"]["online_bytes"],
           "rounds": c["meter"]["online_rounds"],
           "offline_bytes": sum(r["meter"]["offline_bytes"] for r in reports.values()),
           "breakdown": breakdown(c["meter"], s["meter"]),
           "estimated_seconds": c["meter"]["estimated_seconds"],
           "material": {"mode": "streamed" if "material_budget" in args else "precomputed",
                        **{f"{role}_{k}_bytes": v for role in ("client", "server")
                           for k, v in (reports[role].get("material_stream") or {}).items()}},
           "peak_rss_mb": {role: r.get("peak_rss_mb") for role, r in reports.items()},
           "meta": {**args, "output_shape": c["result"]["shape"], "parties": "processes",
                    "machine": platform.machine(), "python": platform.python_version(),
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{a.arch}-{a.size} forward at {a.seq_len} tokens: {out['seconds']:.2f} s online, "
              f"{out['online_bytes']} B, {out['rounds']} rounds")
    return 0
