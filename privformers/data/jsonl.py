"""Read JSON Lines files, one object a line, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from privformers.data.errors import bad_line, existing_file


def read_jsonl(path: str | Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; each object must hold the ``required`` keys."""
    path = existing_file(path)
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise bad_line(path, line_number, f"not JSON ({error.msg})") from None
            if not isinstance(record, dict) or any(key not in record for key in required):
                raise bad_line(path, line_number, f"expected a JSON object with keys {', '.join(required)}")
            yield line_number, record
