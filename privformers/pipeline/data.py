"""The pipeline's three data files, read once: private rows (hashed, counted), public rows and held-out rows
(each checked against the private rows, ``overlap``).

The private file is read as dp-train reads it (classification: ``read_classification_tsv``; lm: the
reader's pairs), so the row count here is the sample size that sets the sampling rate q = batch / N
of the teacher's phase. A malformed file is refused with its name and line, never a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from privformers.data.examples import LabelledText
from privformers.data.registry import read_labelled, read_pairs
from privformers.pipeline.config import PipelineConfig
from privformers.pipeline.overlap import Overlap, apply_policy, find_overlap, row_hash


@dataclass
class PipelineData:
    """Rows of each file; ``public`` and ``heldout`` without private rows (or refused before this exists)."""

    private: list                       # LabelledText (classification) or TextPair (lm)
    private_hashes: list[bytes]
    public: list
    heldout: list
    overlaps: dict[str, Overlap]

    def summary(self) -> dict:
        """Counts only (the report's ``data`` section)."""
        out = {"private_rows": len(self.private), "public_rows": len(self.public), "heldout_rows": len(self.heldout)}
        out.update({f"{name}_rows_dropped": len(o.indices) for name, o in self.overlaps.items()})
        return out


def read_private(config: PipelineConfig) -> list:
    """The private rows as dp-train reads them (the same count, so the same sampling rate)."""
    if config.task == "classification":
        from privformers.dp.datasets import read_classification_tsv

        texts, labels = read_classification_tsv(config.private_data)
        return [LabelledText(t, y) for t, y in zip(texts, labels)]
    return read_pairs(config.data_reader, config.private_data)


def read_rows(config: PipelineConfig, path: str) -> list:
    """A public or held-out file's rows with the configured reader."""
    if config.task == "classification":
        return read_labelled(config.data_reader, path)
    return read_pairs(config.data_reader, path)


def read_data(config: PipelineConfig) -> PipelineData:
    """Read and check every file: overlaps refused, or dropped from the public / held-out side (``config.overlap``)."""
    private = read_private(config)
    hashes = [row_hash(r) for r in private]
    lookup = set(hashes)
    overlaps: dict[str, Overlap] = {}
    parts: dict[str, list] = {"public": [], "heldout": []}
    needs_public = config.student.data == "public"
    for name, path in (("public", config.public_data if needs_public else None), ("heldout", config.check.data)):
        if path is None:
            continue
        rows = read_rows(config, path)
        overlap = find_overlap("public" if name == "public" else "held-out", path, rows, lookup)
        parts[name] = apply_policy(overlap, rows, config.overlap)
        overlaps[name] = overlap
    if needs_public and not parts["public"]:
        raise ValueError(f"no public rows left in {config.public_data} to distil on")
    return PipelineData(private, hashes, parts["public"], parts["heldout"], overlaps)
