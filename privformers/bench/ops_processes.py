"""Op benchmarks with client, server and dealer as three processes over TCP on localhost."""

from __future__ import annotations

from privformers.bench.ops import OPS
from privformers.mpc.launch import launch_local


def bench_op_processes(name: str, frac_bits: int = 16, timeout: float = 600.0) -> dict:
    """Measure one op with the parties as separate processes; one JSON-ready row."""
    reports = launch_local("bench-op", {"op": name}, timeout=timeout, frac_bits=frac_bits)
    client, server = reports["client"]["result"], reports["server"]["result"]
    dealer_meter = reports["dealer"]["meter"]
    return {
        "op": name,
        "n": OPS[name].n,
        "rounds": client["rounds"],
        "online_bytes_per_party": max(client["online_bytes_per_party"], server["online_bytes_per_party"]),
        "offline_bytes": dealer_meter["offline_bytes"] / OPS[name].repeat,
        "seconds": max(client["seconds"], server["seconds"]),
        "max_abs_error": client["max_abs_error"],
        "parties": "processes",
    }
