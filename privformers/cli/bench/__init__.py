"""``privformers bench``: benchmark targets that print JSON, one module per target group."""

from __future__ import annotations

import argparse
import importlib

# the targets, in the order of ``privformers bench --help``
TARGET_MODULES = ("ops", "dp", "generate", "mpc", "forward")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` and its targets."""
    bench = sub.add_parser("bench", help="benchmarks that print JSON (see `privformers bench --help`)")
    bench_sub = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    for name in TARGET_MODULES:
        importlib.import_module(f"privformers.cli.bench.{name}").register_bench(bench_sub)
    bench.set_defaults(func=lambda a: bench.print_help() or 2)
