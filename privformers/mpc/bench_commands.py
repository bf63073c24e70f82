"""``privformers bench transport``: per-message cost of a link over TLS 1.3 and over plain TCP, as JSON."""

from __future__ import annotations

import argparse
import json
import platform
from datetime import datetime, timezone


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transport", help="round-trip time and CPU per message, TLS 1.3 vs plain TCP (two processes)")
    p.add_argument("--sizes", default="8,1024,65536,1048576,16777216", help="comma-separated message sizes in bytes")
    p.add_argument("--seconds", type=float, default=1.0, help="about how long to measure each size")
    p.add_argument("--repeats", type=int, default=1, help="alternate TLS and TCP this many times")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(a: argparse.Namespace) -> int:
    from privformers.mpc.bench_transport import measure

    sizes = tuple(int(s) for s in a.sizes.split(",") if s.strip())
    rows = []
    for i in range(max(1, a.repeats)):
        for transport in (("tls", "tcp") if i % 2 == 0 else ("tcp", "tls")):
            rows += [{**r, "repeat": i} for r in measure(transport, sizes, a.seconds)]
    meta = {"machine": platform.machine(), "python": platform.python_version(), "parties": "two processes",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if a.json:
        print(json.dumps({"rows": rows, "meta": meta}))
        return 0
    print(f"{'transport':9s} {'bytes':>10s} {'RTT median us':>14s} {'CPU us/RTT':>11s} {'MB/s each way':>14s}")
    for r in rows:
        print(f"{r['transport']:9s} {r['bytes']:>10d} {r['round_trip_us_median']:>14.1f} "
              f"{r['cpu_us_per_round_trip']:>11.1f} {r['mb_per_s_each_way']:>14.1f}")
    return 0
