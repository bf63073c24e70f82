"""``privformers bench forward``: online cost of one secure forward pass (e.g. BERT-base at 128 tokens),
or of several recipes side by side (``--compare``), each run in turn and repeated."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from datetime import datetime, timezone

from privformers.cli.argtypes import frac_bits, positive_float, positive_int, strict_json
from privformers.cli.options import add_server_gemm_options, server_gemm_from


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("forward", help="one secure forward pass of a random-weight model (parties as processes)")
    p.add_argument("--arch", choices=("bert", "gpt2"), default="bert")
    p.add_argument("--size", choices=("tiny", "small", "base", "minilm"), default="tiny",
                   help="minilm: the shape of all-MiniLM-L6-v2 (BERT only)")
    p.add_argument("--recipe", default=None,
                   help="approximation recipe applied to the model (e.g. mpcformer-quad-2quad); default exact")
    p.add_argument("--random-weights", action="store_true", required=True,
                   help="seeded random weights of the named size (the only mode offline)")
    p.add_argument("--seq-len", type=positive_int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--material-budget-mb", type=positive_float, default=None,
                   help="stream the correlated material: each party makes it in a second thread at most this "
                        "many MB ahead of the online pass (bounded memory; the online time then includes "
                        "waiting for material). Default: all material is made before the online pass")
    p.add_argument("--compare", default=None, metavar="R1,R2,...",
                   help="recipes to measure side by side ('exact' for none), run in turn --repeats times; "
                        "reports each run, the median seconds and each recipe's speed-up over the first")
    p.add_argument("--repeats", type=positive_int, default=1, help="with --compare: rounds of runs (default 1)")
    add_server_gemm_options(p)
    p.add_argument("--timeout", type=positive_float, default=3600.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run_forward)


def _run_forward(a: argparse.Namespace) -> int:
    try:
        a.server_gemm = server_gemm_from(a)
    except ValueError as exc:
        print(f"bench forward: {exc}", file=sys.stderr)
        return 2
    if a.compare is None:
        if a.repeats != 1:
            print("bench forward: --repeats needs --compare", file=sys.stderr)
            return 2
        out = _measure(a, a.recipe)
        if isinstance(out, int):
            return out
        if a.json:
            print(strict_json(out))
        else:
            print(f"{a.arch}-{a.size} forward at {a.seq_len} tokens: {out['seconds']:.2f} s online, "
                  f"{out['online_bytes']} B, {out['rounds']} rounds")
        return 0
    recipes = [r.strip() for r in a.compare.split(",") if r.strip()]
    if len(recipes) < 2 or a.recipe or a.repeats < 1:
        print("bench forward: --compare takes two or more recipes (not with --recipe) and --repeats >= 1",
              file=sys.stderr)
        return 2
    from privformers.approx.recipes import get_recipe

    for recipe in recipes:  # fail before the first launch, not minutes in
        try:
            if recipe != "exact":
                get_recipe(recipe)
        except ValueError as exc:
            print(f"bench forward: {exc}", file=sys.stderr)
            return 2
    runs = []
    for i in range(a.repeats):
        for recipe in recipes:
            out = _measure(a, None if recipe == "exact" else recipe)
            if isinstance(out, int):
                return out
            runs.append({"repeat": i, "recipe": recipe, **out})
            print(f"run {i + 1}/{a.repeats} {recipe}: {out['seconds']:.2f} s online, {out['rounds']} rounds",
                  file=sys.stderr, flush=True)
    summary = compare_summary(runs, recipes)
    if a.json:
        print(json.dumps({"runs": runs, **summary}))
    else:
        for r in recipes:
            line = f"{r}: median {summary['recipes'][r]['median_seconds']:.2f} s"
            if r != recipes[0]:
                line += f", {summary['speedup'][r]['median_of_repeats']:.2f}x faster than {recipes[0]}"
            print(line)
    return 0


def compare_summary(runs: list[dict], recipes: list[str]) -> dict:
    """Per recipe: seconds of each repeat, median and minimum; per later recipe: the speed-up over the
    first (its seconds / theirs) in each repeat, their median, and the ratio of the two medians."""
    seconds = {r: [x["seconds"] for x in runs if x["recipe"] == r] for r in recipes}
    per = {r: {"seconds": s, "median_seconds": statistics.median(s), "min_seconds": min(s),
               "rounds": next(x["rounds"] for x in runs if x["recipe"] == r),
               "online_bytes": next(x["online_bytes"] for x in runs if x["recipe"] == r)}
           for r, s in seconds.items()}
    base = seconds[recipes[0]]
    speedup = {}
    for r in recipes[1:]:
        each = [b / s for b, s in zip(base, seconds[r])]
        speedup[r] = {"per_repeat": [round(x, 3) for x in each], "median_of_repeats": statistics.median(each),
                      "ratio_of_medians": per[recipes[0]]["median_seconds"] / per[r]["median_seconds"]}
    return {"recipes": per, "speedup": speedup, "baseline": recipes[0]}


def _measure(a: argparse.Namespace, recipe: str | None) -> dict | int:
    """One launch of the three parties and the forward program: the JSON report, or an exit code."""
    from privformers.generation.report import breakdown
    from privformers.mpc.launch import LaunchError, launch_local, local_gemm_threads
    from privformers.mpc.party import SERVER

    args = {"arch": a.arch, "size": a.size, "seed": a.seed, "seq_len": a.seq_len}
    if recipe:
        from privformers.approx.recipes import get_recipe

        try:
            get_recipe(recipe)
        except ValueError as exc:
            print(f"bench forward: {exc}", file=sys.stderr)
            return 2
        args["recipe"] = recipe
    if a.size == "minilm" and a.arch != "bert":
        print("bench forward: --size minilm is a BERT shape (use --arch bert)", file=sys.stderr)
        return 2
    if a.material_budget_mb is not None:
        if a.material_budget_mb <= 0:
            print("--material-budget-mb must be > 0", file=sys.stderr)
            return 2
        args["material_budget"] = int(a.material_budget_mb * 2**20)
    try:
        reports = launch_local("forward", args, a.timeout, a.frac_bits,
                               server_gemm=a.server_gemm)
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
                    "server_gemm": {"device": a.server_gemm_device,
                                    "threads": a.server_gemm_threads or local_gemm_threads(SERVER)},
                    "cpus": os.cpu_count(), "gpu": _gpu_name(a.server_gemm_device),
                    "machine": platform.machine(), "python": platform.python_version(),
                    "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    return out


def _gpu_name(device: str) -> str | None:
    """The GPU's name when the server's products run on one (for the report's machine line)."""
    if device == "cpu":
        return None
    import torch

    return torch.cuda.get_device_name(torch.device(device))
