"""Runs the op benchmarks and assembles one JSON object per op."""

from __future__ import annotations

from privformers.bench.ops import OPS, op_program
from privformers.mpc.session import run_local


def offline_bytes(meters: dict) -> int:
    """Bytes of correlated material the dealer sent (the offline phase)."""
    return meters["dealer"].total_bytes("offline")


def bench_op_local(name: str, frac_bits: int = 16) -> dict:
    """Measure one op with the three parties as threads of this process."""
    program, report = op_program(name)
    run = run_local(program, frac_bits=frac_bits, timeout=600)
    client, server = run.results["client"], run.results["server"]
    report.update({
        "rounds": client["rounds"],
        "online_bytes_per_party": max(client["online_bytes_per_party"], server["online_bytes_per_party"]),
        "offline_bytes": offline_bytes(run.meters) / OPS[name].repeat,
        "seconds": max(client["seconds"], server["seconds"]),
        "max_abs_error": client["max_abs_error"],
        "parties": "threads",
    })
    return report
