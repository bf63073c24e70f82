"""The ``privformers`` command line.

Subcommands are discovered, not listed here: every subpackage ``privformers.<area>``
may hold a module ``commands`` with ``register(subparsers)``, and ``bench`` targets
are found the same way in ``privformers.<area>.bench_commands`` (``register_bench``).
Adding a command touches one new file and nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Callable, Iterator

import privformers


def _area_modules(name: str) -> Iterator[object]:
    """Import ``privformers.<area>.<name>`` for every area that has one.

    Areas are found on disk, so an area without such a module is not imported at all (importing a
    package to ask for its submodule would load torch and transformers for ``--help``)."""
    for info in sorted(pkgutil.iter_modules(privformers.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        area_path = os.path.join(info.module_finder.path, info.name)
        if any(sub.name == name for sub in pkgutil.iter_modules([area_path])):
            yield importlib.import_module(f"privformers.{info.name}.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="privformers",
        description="Privacy-preserving transformers: private inference and generation under "
        "two-party computation, and differentially private fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"privformers {privformers.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="benchmarks that print JSON (see `privformers bench --help`)")
    bench_sub = bench.add_subparsers(dest="bench_target", metavar="TARGET")
    for mod in _area_modules("bench_commands"):
        mod.register_bench(bench_sub)
    bench.set_defaults(func=lambda a: bench.print_help() or 2)
    for mod in _area_modules("commands"):
        mod.register(sub)
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


if __name__ == "__main__":
    sys.exit(main())
