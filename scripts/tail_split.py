"""Split a TSV with a header into private (the first rows) and public (the last ``--public-fraction``) files.

The pipeline's SST-2 protocol: the first 80% of ``sst2/train.tsv`` is the private data, the last 20% the
public data the student is distilled on. Rows are not shuffled: the cut is a fixed position in the file.
usage: python scripts/tail_split.py TRAIN.tsv OUT_DIR [--public-fraction 0.2]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    """Write OUT_DIR/private.tsv and OUT_DIR/public.tsv, each with the header; print the row counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--public-fraction", type=float, default=0.2)
    args = parser.parse_args()
    header, *rows = Path(args.data).read_text(encoding="utf-8").splitlines(keepends=True)
    rows = [r for r in rows if r.strip()]
    cut = len(rows) - round(len(rows) * args.public_fraction)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in (("private", rows[:cut]), ("public", rows[cut:])):
        (out / f"{name}.tsv").write_text(header + "".join(part), encoding="utf-8")
        print(f"{name}: {len(part)} rows")


if __name__ == "__main__":
    main()
