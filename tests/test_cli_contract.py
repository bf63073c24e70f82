"""Argument parsing lives in ``privformers/cli/`` only: no other module of the library imports argparse
(library functions take typed arguments or config dataclasses, never a parsed Namespace)."""

from __future__ import annotations

import ast
from pathlib import Path

import privformers

PACKAGE = Path(privformers.__file__).resolve().parent
CLI = PACKAGE / "cli"


def argparse_imports(source: str, filename: str = "<source>") -> list[int]:
    """Line numbers where ``source`` imports argparse (``import argparse``, ``import argparse as x``,
    ``from argparse import ...``), at any depth: inside functions and ``if`` blocks too."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            lines += [node.lineno for alias in node.names if alias.name.split(".")[0] == "argparse"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "argparse":
            lines.append(node.lineno)
    return lines


def offenders(root: Path = PACKAGE) -> list[str]:
    """``path:line`` of every argparse import in the package at ``root`` outside its ``cli/``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if root / "cli" in path.parents:
            continue
        for line in argparse_imports(path.read_text(encoding="utf-8"), str(path)):
            found.append(f"{path.relative_to(root.parent)}:{line}")
    return found


def test_no_argparse_outside_the_cli_package():
    assert offenders() == []


def test_the_cli_package_is_where_parsing_is():
    """The check would pass vacuously if it skipped everything: the CLI's own modules do import argparse."""
    assert argparse_imports((CLI / "__init__.py").read_text()) and len(list(PACKAGE.rglob("*.py"))) > 50


def test_a_planted_argparse_import_is_reported(tmp_path):
    """Negative control: each way of importing argparse, planted in a module outside cli/, is found; an
    import inside cli/, a mention in a string or comment, and a module merely named like it are not."""
    planted = {
        "plain.py": "import argparse\n",
        "aliased.py": "import os, argparse as ap\n",
        "from_import.py": "from argparse import Namespace\n",
        "nested.py": "def f():\n    if True:\n        from argparse import ArgumentParser\n    return 1\n",
    }
    clean = {
        "strings.py": "'''import argparse'''\n# import argparse\nx = 'from argparse import Namespace'\n",
        "lookalike.py": "import argparse_extra\nfrom .argparse import thing\n",
    }
    root = tmp_path / "privformers"
    (root / "cli").mkdir(parents=True)
    (root / "cli" / "__init__.py").write_text("import argparse\n")
    for name, source in {**planted, **clean}.items():
        (root / name).write_text(source)
    found = offenders(root)
    assert sorted(f.split(":")[0].split("/")[-1] for f in found) == sorted(planted)
    assert "privformers/nested.py:3" in found
