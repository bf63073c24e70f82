"""Run the ``privformers`` command line in-process and see what a user would see."""

from __future__ import annotations

import json
import traceback

import pytest

from privformers.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``privformers ARGV`` as the script would end.

    A SystemExit gives its status (a string status is printed to stderr with status 1, as Python does);
    any other exception gives status 1 and the traceback Python would print for it (chained exceptions
    included), appended to stderr: what leaks in a traceback is checked too."""
    extra = ""
    try:
        code = main(argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            code, extra = 1, f"{exc.code}\n"
    except Exception as exc:  # noqa: BLE001 - an uncaught exception is what the user would see
        code = 1
        extra = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    out = capsys.readouterr()
    return code, out.out, out.err + extra


def strict_loads(text: str) -> object:
    """json.loads that refuses NaN and Infinity, which are not JSON (RFC 8259) and strict parsers reject."""
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)
