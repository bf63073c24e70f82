"""Write the E2E DP protocol's splits as mr,ref CSVs: public and private halves of train-lm's train split.

train-lm's split of devset.csv by MR (validation 0.05, test 0.10, seed 0) is kept, so the test MRs are
those of the built-in model's card. Its train MRs are then shuffled (seed 1) and cut by MR into a
*public* part (``--public-fraction``, pretraining) and a *private* part (the DP fine-tuning data).
usage: python scripts/e2e_public_private.py DEVSET.csv OUT_DIR [--public-fraction 0.2]
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from privformers.data import read_pairs
from privformers.data.splits import split_by_source


def write(path: Path, pairs) -> None:
    """One row per (MR, reference)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mr", "ref"])
        writer.writerows((p.source, p.target) for p in pairs)


def main() -> None:
    """Split and write public.csv, private.csv, validation.csv and test.csv."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devset")
    parser.add_argument("out")
    parser.add_argument("--public-fraction", type=float, default=0.2)
    args = parser.parse_args()
    splits = split_by_source(read_pairs("e2e", args.devset), 0.05, 0.10, 0)
    sources = sorted({p.source for p in splits["train"]})
    random.Random(1).shuffle(sources)
    public = set(sources[:round(len(sources) * args.public_fraction)])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = {"public": [p for p in splits["train"] if p.source in public],
             "private": [p for p in splits["train"] if p.source not in public],
             "validation": splits["validation"], "test": splits["test"]}
    for name, pairs in parts.items():
        write(out / f"{name}.csv", pairs)
        print(f"{name}: {len({p.source for p in pairs})} MRs, {len(pairs)} references")


if __name__ == "__main__":
    main()
