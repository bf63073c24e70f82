"""``privformers bench dp``: steps/s and peak memory of each clipping mode against non-private."""

from __future__ import annotations

import argparse

from privformers.argtypes import strict_json


def _run(args: argparse.Namespace) -> int:
    from privformers.dp.bench import run_all

    results = run_all(args)
    if args.json:
        print(strict_json(results, indent=1))
    else:
        for r in results:
            runs = " ".join(f"{s:.3f}" for s in r["runs_steps_per_s"])
            print(f"{r['mode']:>10}  {r['steps_per_s']:.3f} steps/s (runs {runs})  {r['peak_mb']:.0f} MB  "
                  f"x{r.get('ratio_to_nonprivate', float('nan')):.2f}  ({r['processes']} process(es))")
    return 0


def register_bench(bench_subparsers) -> None:
    """Add the ``dp`` benchmark target."""
    from privformers.dp.bench import add_arguments

    parser = bench_subparsers.add_parser("dp", help="DP training speed/memory per clipping mode "
                                         "(--nproc N: against DDP)")
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)
