"""Write BENCHMARKS.md from the stored results in benchmarks/results/.

    python benchmarks/report.py            # rewrite BENCHMARKS.md
    python benchmarks/report.py --check    # exit 1 if BENCHMARKS.md differs from what the results give

The results are JSON: `results/index.json` names the machines and the sections, and each section's
folder holds one file per table (read in file-name order). Every row states the command, machine,
date (UTC) and commit that produced its numbers; benchmarks/README.md describes the format. Only the
standard library is used, so the report builds without the package's dependencies.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
OUTPUT = REPO / "BENCHMARKS.md"

PROVENANCE = ("command", "machine", "date", "commit")
OPTIONAL_ROW_KEYS = ("conditions", "raw", "note")
TABLE_KEYS = {"title", "description", "columns", "rows", "notes"}
COLUMN_KEYS = {"key", "label", "format", "join"}
# A day, optionally a time or a time range (UTC), optionally "/" and a last day: 2026-12-04,
# 2026-12-04T19:38Z, 2026-12-04T19:38-19:44Z, 2026-12-02/2026-12-03.
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?:-(\d{2}:\d{2}))?Z)?(?:/(\d{4}-\d{2}-\d{2}))?$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
NOT_RECORDED = "not recorded"


class ResultError(ValueError):
    """A result file that does not follow the format of benchmarks/README.md."""


@dataclass
class Table:
    path: Path
    title: str
    description: str | None
    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]
    notes: list[str]


@dataclass
class Section:
    id: str
    title: str
    intro: str | None
    tables: list[Table]


@dataclass
class Results:
    machines: dict[str, str]
    sections: list[Section]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ResultError(f"{path}: not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}") from None


def _check_date(value: Any, where: str) -> None:
    if value is None:
        return
    m = DATE.match(value) if isinstance(value, str) else None
    if m is None:
        raise ResultError(
            f"{where}: 'date' must be null or a UTC date such as 2026-12-04, 2026-12-04T19:38Z, "
            f"2026-12-04T19:38-19:44Z or 2026-12-02/2026-12-03, not {value!r}"
        )
    try:
        for part in (m.group(1), m.group(4)):
            if part:
                datetime.date.fromisoformat(part)
        for part in (m.group(2), m.group(3)):
            if part:
                datetime.time.fromisoformat(part)
    except ValueError as e:
        raise ResultError(f"{where}: 'date' {value!r} is not a real date or time: {e}") from None


def _is_value(v: Any) -> bool:
    if v is None or isinstance(v, (str, bool, int, float)):
        return True
    return isinstance(v, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v)


def _check_table(path: Path, data: Any, machines: dict[str, str]) -> Table:
    if not isinstance(data, dict):
        raise ResultError(f"{path}: the file must hold one JSON object (a table), not {type(data).__name__}")
    unknown = set(data) - TABLE_KEYS
    if unknown:
        raise ResultError(f"{path}: unknown table keys {sorted(unknown)}; allowed: {sorted(TABLE_KEYS)}")
    for key in ("title", "columns", "rows"):
        if key not in data:
            raise ResultError(f"{path}: missing table key {key!r}")
    if not isinstance(data["title"], str) or not data["title"]:
        raise ResultError(f"{path}: 'title' must be a non-empty string")
    if not isinstance(data.get("description", ""), str):
        raise ResultError(f"{path}: 'description' must be a string")
    notes = data.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ResultError(f"{path}: 'notes' must be a list of strings")

    columns = data["columns"]
    if not isinstance(columns, list) or not columns:
        raise ResultError(f"{path}: 'columns' must be a non-empty list")
    keys: list[str] = []
    for i, col in enumerate(columns):
        where = f"{path}: column {i}"
        if not isinstance(col, dict) or not isinstance(col.get("key"), str) or not isinstance(col.get("label"), str):
            raise ResultError(f"{where}: a column is an object with string 'key' and 'label'")
        if set(col) - COLUMN_KEYS:
            raise ResultError(f"{where}: unknown keys {sorted(set(col) - COLUMN_KEYS)}; allowed: {sorted(COLUMN_KEYS)}")
        if col["key"] in PROVENANCE or col["key"] in OPTIONAL_ROW_KEYS:
            raise ResultError(f"{where}: {col['key']!r} is a provenance key, not a column")
        if col["key"] in keys:
            raise ResultError(f"{where}: key {col['key']!r} appears twice")
        if "format" in col:
            try:
                format(1.5, col["format"])
            except (TypeError, ValueError) as e:
                raise ResultError(f"{where}: bad format {col['format']!r}: {e}") from None
        keys.append(col["key"])

    rows = data["rows"]
    if not isinstance(rows, list) or not rows:
        raise ResultError(f"{path}: 'rows' must be a non-empty list")
    for i, row in enumerate(rows):
        where = f"{path}: row {i}"
        if not isinstance(row, dict):
            raise ResultError(f"{where}: a row is a JSON object")
        for key in PROVENANCE:
            if key not in row:
                raise ResultError(f"{where}: missing key {key!r} (every row states {', '.join(PROVENANCE)})")
        for key in keys:
            if key not in row:
                raise ResultError(f"{where}: missing column {key!r} (use null for a value not measured)")
        unknown = set(row) - set(keys) - set(PROVENANCE) - set(OPTIONAL_ROW_KEYS)
        if unknown:
            raise ResultError(f"{where}: keys {sorted(unknown)} are neither columns nor provenance keys")
        if row["command"] is not None and (not isinstance(row["command"], str) or not row["command"].strip()):
            raise ResultError(f"{where}: 'command' must be the exact command line, or null when not recorded")
        if row["machine"] not in machines:
            raise ResultError(f"{where}: machine {row['machine']!r} is not in index.json's machines {sorted(machines)}")
        _check_date(row["date"], where)
        if row["commit"] is not None and not (isinstance(row["commit"], str) and COMMIT.match(row["commit"])):
            raise ResultError(f"{where}: 'commit' must be null or 7-40 lower-case hex digits, not {row['commit']!r}")
        for key in ("conditions", "note"):
            if key in row and not isinstance(row[key], str):
                raise ResultError(f"{where}: {key!r} must be a string")
        raw = row.get("raw", [])
        paths = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else [None]
        for p in paths:
            if not isinstance(p, str):
                raise ResultError(f"{where}: 'raw' must be a path or a list of paths")
            if not (REPO / p).exists():
                raise ResultError(f"{where}: raw result {p!r} does not exist (paths are relative to the repository)")
        for key in keys:
            if not _is_value(row[key]):
                raise ResultError(f"{where}: column {key!r} holds {row[key]!r}; a value is a number, string, "
                                  "boolean, null or a list of numbers or strings")
    return Table(path, data["title"], data.get("description"), columns, rows, notes)


def load_results(results: Path = RESULTS) -> Results:
    """Read and check every result file; raises ResultError with the file and the row at fault."""
    index_path = results / "index.json"
    if not index_path.is_file():
        raise ResultError(f"{index_path}: missing (it names the machines and the sections)")
    index = _load_json(index_path)
    if not isinstance(index, dict) or set(index) != {"machines", "sections"}:
        raise ResultError(f"{index_path}: must be an object with exactly the keys 'machines' and 'sections'")
    machines = index["machines"]
    if not isinstance(machines, dict) or not all(isinstance(v, str) for v in machines.values()):
        raise ResultError(f"{index_path}: 'machines' maps an id to a description")
    sections: list[Section] = []
    ids: set[str] = set()
    for i, sec in enumerate(index["sections"]):
        if not isinstance(sec, dict) or not isinstance(sec.get("id"), str) or not isinstance(sec.get("title"), str):
            raise ResultError(f"{index_path}: section {i} needs string 'id' and 'title'")
        extra = set(sec) - {"id", "title", "intro"}
        if extra:
            raise ResultError(f"{index_path}: section {sec['id']!r}: unknown keys {sorted(extra)}")
        folder = results / sec["id"]
        tables = [_check_table(p, _load_json(p), machines) for p in sorted(folder.glob("*.json"))]
        sections.append(Section(sec["id"], sec["title"], sec.get("intro"), tables))
        ids.add(sec["id"])
    for folder in sorted(p for p in results.iterdir() if p.is_dir()):
        if folder.name not in ids:
            raise ResultError(f"{folder}: not a section of {index_path} (add it there, or move its files)")
    stray = sorted(p.name for p in results.glob("*.json") if p.name != "index.json")
    if stray:
        raise ResultError(f"{results}: result files belong in a section's folder, not at the top: {stray}")
    return Results(machines, sections)


def _cell(value: Any, col: dict[str, str]) -> str:
    def one(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, (int, float)):
            return format(v, col.get("format", ","))
        return str(v)

    text = col.get("join", ", ").join(one(v) for v in value) if isinstance(value, list) else one(value)
    return text.replace("|", "\\|")


def _numeric(rows: list[dict[str, Any]], key: str) -> bool:
    values = [v for r in rows for v in (r[key] if isinstance(r[key], list) else [r[key]]) if v is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _source(row: dict[str, Any]) -> str:
    command = f"`{row['command']}`" if row["command"] else f"command {NOT_RECORDED}"
    machine = row["machine"] + (f" ({row['conditions']})" if row.get("conditions") else "")
    date = row["date"] or f"date {NOT_RECORDED}"
    commit = f"commit {row['commit']}" if row["commit"] else f"commit {NOT_RECORDED}"
    parts = [command, machine, date, commit]
    raw = row.get("raw")
    if raw:
        parts.append("raw: " + ", ".join(f"`{p}`" for p in ([raw] if isinstance(raw, str) else raw)))
    if row.get("note"):
        parts.append(row["note"])
    return "; ".join(parts)


def render_table(table: Table) -> list[str]:
    out = [f"### {table.title}", ""]
    if table.description:
        out += [table.description, ""]
    sources: dict[str, int] = {}
    marks = []
    for row in table.rows:
        marks.append(sources.setdefault(_source(row), len(sources) + 1))
    labels = [c["label"] for c in table.columns] + ["source"]
    aligns = ["---:" if _numeric(table.rows, c["key"]) else "---" for c in table.columns] + ["---"]
    out.append("| " + " | ".join(labels) + " |")
    out.append("|" + "|".join(aligns) + "|")
    for row, mark in zip(table.rows, marks):
        out.append("| " + " | ".join(_cell(row[c["key"]], c) for c in table.columns) + f" | [{mark}] |")
    out.append("")
    out += [f"- [{n}] {text}" for text, n in sources.items()]
    if table.notes:
        out.append("")
        out += [f"- {note}" for note in table.notes]
    out.append("")
    return out


def _last_day(results: Results) -> str:
    days = []
    for sec in results.sections:
        for table in sec.tables:
            for row in table.rows:
                if row["date"]:
                    m = DATE.match(row["date"])
                    assert m is not None
                    days.append(m.group(4) or m.group(1))
    return max(days) if days else NOT_RECORDED


def render(results: Results) -> str:
    n_tables = sum(len(s.tables) for s in results.sections)
    n_rows = sum(len(t.rows) for s in results.sections for t in s.tables)
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/report.py from benchmarks/results/; do not edit by hand. -->",
        "",
        "The latest measurement of each thing privformers measures. Every row names the command that produced it,",
        "the machine, the date (UTC) and the commit in the numbered sources under its table; a command, date or",
        "commit that was not written down at the time says so. Seconds depend on the machine and on its load,",
        "stated with each row; rounds and bytes are counted by the engine's meter and do not.",
        "",
        "- Regenerate: `python benchmarks/report.py` (`--check` fails when this page is stale). To add a result,",
        "  see [benchmarks/README.md](benchmarks/README.md).",
        "- History: the dated measurements behind these tables, and what changed between them, are in",
        "  [benchmarks/archive.md](benchmarks/archive.md).",
        f"- {n_tables} tables, {n_rows} rows; the latest measurement is from {_last_day(results)}.",
        "",
        "## Machines",
        "",
        "| machine | what it is |",
        "|---|---|",
    ]
    out += [f"| {mid} | {desc} |" for mid, desc in results.machines.items()]
    out.append("")
    for sec in results.sections:
        if not sec.tables:
            continue
        out += [f"## {sec.title}", ""]
        if sec.intro:
            out += [sec.intro, ""]
        for table in sec.tables:
            out += render_table(table)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write BENCHMARKS.md from benchmarks/results/*.json.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the page to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page differs")
    args = parser.parse_args(argv)
    try:
        text = render(load_results(args.results))
    except ResultError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run python benchmarks/report.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
