"""The Python examples of README.md and of the documentation pages (docs/) run as written.

A block fenced as ```python runs, each in a fresh namespace; an example too slow for the suite is
fenced as ```py (highlighted the same on the site, never run). A block that appears word for word in
several files runs once, under the first of them (README.md, then the pages in path order)."""

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] != "bench")   # as mkdocs.yml
RUNNABLE = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", flags=re.S | re.M)


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    """(line of the block's first code line, code) for every ```python block of a Markdown file."""
    text = path.read_text()
    return [(text.count("\n", 0, m.start(2)) + 1, textwrap.dedent(m.group(2))) for m in RUNNABLE.finditer(text)]


def blocks_to_run() -> dict[Path, list[tuple[int, str]]]:
    """Each distinct block, under the first file that has it."""
    seen: set[str] = set()
    owned: dict[Path, list[tuple[int, str]]] = {}
    for path in [README, *PAGES]:
        for line, code in runnable_blocks(path):
            if code not in seen:
                seen.add(code)
                owned.setdefault(path, []).append((line, code))
    return owned


OWNED = blocks_to_run()


def run_blocks(path: Path, name: str) -> None:
    for line, code in OWNED.get(path, []):
        # blank lines in front, so a traceback names the line of the Markdown file
        exec(compile("\n" * (line - 1) + code, str(path.relative_to(ROOT)), "exec"), {"__name__": name})


def test_every_python_fence_is_found():
    """A fence the pattern missed (say, one indented unlike its closing fence) would silently not run."""
    for path in [README, *PAGES]:
        assert len(runnable_blocks(path)) == path.read_text().count("```python\n"), path


def test_readme_python_blocks_run():
    assert runnable_blocks(README), "README has no python example"
    run_blocks(README, "readme")


@pytest.mark.parametrize("page", [p for p in OWNED if p != README], ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_python_blocks_run(page):
    run_blocks(page, "docs")
