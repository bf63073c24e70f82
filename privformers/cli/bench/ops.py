"""`privformers bench ops`: the engine's per-op costs and errors as JSON."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone

from privformers.bench.ops import OPS
from privformers.cli.argtypes import frac_bits


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="cost (bytes, rounds, seconds) and error of each secure op")
    p.add_argument("--ops", default=",".join(OPS), help=f"comma-separated subset of: {', '.join(OPS)}")
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--parties", choices=("processes", "threads"), default="processes",
                   help="three separate local processes over TCP (default) or threads of one process")
    p.add_argument("--json", action="store_true", help="print a JSON list (one object per op)")
    p.set_defaults(func=_run_ops)


def _run_ops(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    names = [n.strip() for n in args.ops.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPS]
    if unknown:
        print(f"unknown op(s): {', '.join(unknown)}; choose from {', '.join(OPS)}", file=sys.stderr)
        return 2
    if args.parties == "processes":
        from privformers.bench.ops_processes import bench_op_processes as bench
    else:
        from privformers.bench.ops_runner import bench_op_local as bench
    rows = []
    for name in names:
        row = bench(name, frac_bits=args.frac_bits)
        rows.append(row)
        if not args.json:
            print(f"{name:22s} n={row['n']:>8d} rounds={row['rounds']:>5.0f} "
                  f"online/party={row['online_bytes_per_party']:>12.0f} B offline={row['offline_bytes']:>12.0f} B "
                  f"{row['seconds']:.4f} s  err={row['max_abs_error']:.2e}", flush=True)
    if args.json:
        meta = {"machine": platform.machine(), "python": platform.python_version(),
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        for row in rows:
            row.setdefault("meta", meta)
        print(json.dumps(rows, indent=1))
    return 0
