"""``privformers bench transport``: per-message cost of a link over TLS 1.3 and over plain TCP, as JSON;
``privformers bench dcf``: one party's DCF evaluation time, in cache-sized blocks against one pass, and
with 4- and 16-ary trees."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone

from privformers.cli.argtypes import positive_float, positive_int


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transport", help="round-trip time and CPU per message, TLS 1.3 vs plain TCP (two processes)")
    p.add_argument("--sizes", default="8,1024,65536,1048576,16777216", help="comma-separated message sizes in bytes")
    p.add_argument("--seconds", type=positive_float, default=1.0, help="about how long to measure each size")
    p.add_argument("--repeats", type=positive_int, default=1, help="alternate TLS and TCP this many times")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)
    d = sub.add_parser("dcf", help="DCF keygen and evaluation time per shape (blocked vs one pass), one process")
    d.add_argument("--shapes", default="1536x11x27,196608x2x24,128x28x33,50257x1x63",
                   help="comma-separated ELEMENTSxPOINTSxBITS")
    d.add_argument("--radix-bits", default="2,4",
                   help="comma-separated input bits per level of the trees timed beside the binary one (2, 4; "
                        "'' for none)")
    d.add_argument("--repeats", type=positive_int, default=3, help="best of this many")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=_run_dcf)


def _run_dcf(a: argparse.Namespace) -> int:
    from privformers.mpc.fss.dcf import EVAL_BLOCK, bench_dcf
    from privformers.mpc.fss.radix_dcf import RADIX_BITS, bench_radix_dcf

    try:
        shapes = [tuple(int(v) for v in s.split("x")) for s in a.shapes.split(",") if s.strip()]
        if any(len(t) != 3 or min(t) < 1 or t[2] > 64 for t in shapes):
            raise ValueError
    except ValueError:
        print(f"bench dcf: --shapes takes ELEMENTSxPOINTSxBITS (bits 1-64), got {a.shapes!r}", file=sys.stderr)
        return 2
    try:
        radixes = [int(v) for v in a.radix_bits.split(",") if v.strip()]
        if any(k not in RADIX_BITS for k in radixes):
            raise ValueError
    except ValueError:
        print(f"bench dcf: --radix-bits takes a list of {RADIX_BITS}, got {a.radix_bits!r}", file=sys.stderr)
        return 2
    rows = []
    for n, points, bits in shapes:
        r = bench_dcf(n, bits, max(1, a.repeats), points)
        row = {**{k: int(v) for k, v in r.items() if k in ("n", "n_bits", "points")},
               "keygen_s": round(r["keygen_s"], 5), "eval_s": round(r["eval_s"], 5),
               "eval_one_pass_s": round(r["eval_one_pass_s"], 5),
               "block_speedup": round(r["eval_one_pass_s"] / r["eval_s"], 3),
               "key_bytes_per_element": r["key_bytes_per_element"], "correct": bool(r["correct"])}
        for k in radixes:
            t = bench_radix_dcf(n, bits, k, max(1, a.repeats), points)
            row[f"children_{1 << k}"] = {"keygen_s": round(t["keygen_s"], 5), "eval_s": round(t["eval_s"], 5),
                                         "speedup": round(r["eval_s"] / t["eval_s"], 3),
                                         "key_bytes_per_element": t["key_bytes_per_element"]}
            row["correct"] = row["correct"] and bool(t["correct"])
        rows.append(row)
    meta = {"eval_block": EVAL_BLOCK, "machine": platform.machine(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if a.json:
        print(json.dumps({"rows": rows, "meta": meta}))
    else:
        for r in rows:
            trees = "".join(f", {key.split('_')[1]} children {v['eval_s']:.4f} s ({v['key_bytes_per_element']:.0f} B)"
                            for key, v in r.items() if key.startswith("children_"))
            print(f"{r['n']} x {r['points']} points at {r['n_bits']} bits: eval {r['eval_s']:.4f} s "
                  f"(one pass {r['eval_one_pass_s']:.4f} s){trees}, keygen {r['keygen_s']:.3f} s, "
                  f"correct={r['correct']}")
    return 0 if all(r["correct"] for r in rows) else 1


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
