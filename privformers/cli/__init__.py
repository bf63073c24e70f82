"""The ``privformers`` command line: all argument parsing lives in this package.

One module per command group builds its subparsers with ``register(subparsers)`` and holds the thin
``run_*`` functions that turn the parsed options into typed arguments or config objects for the
library (which never sees an ``argparse.Namespace``). ``bench`` targets live in
``privformers.cli.bench``. Adding a command means a module here and one line in ``COMMAND_MODULES``.

Every module here imports only the standard library and light parts of privformers at import time:
``privformers --help`` must not load torch, transformers or nltk.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

import privformers

# the subcommands, in the order of ``privformers --help`` (``bench`` comes first, then these)
COMMAND_MODULES = ("data", "distill", "dp", "generate", "lm", "mpc", "pipeline", "secure")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    from privformers.cli import bench

    parser = argparse.ArgumentParser(
        prog="privformers",
        description="Privacy-preserving transformers: private inference and generation under "
        "two-party computation, and differentially private fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"privformers {privformers.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench.register(sub)
    for name in COMMAND_MODULES:
        importlib.import_module(f"privformers.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``privformers`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that run themselves again (--nproc)
    func: Callable[[argparse.Namespace], int | None] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code = func(args)
    except KeyboardInterrupt as exc:   # Ctrl-C, or a launcher stopped by a signal (its parties ended first)
        print(str(exc) or "interrupted", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    return int(code or 0)
