"""bench dp runs each mode in a subprocess and reports measured speed, memory and ratios."""

from __future__ import annotations

import argparse

from privformers.dp.bench import run_all


def test_bench_reports_every_mode():
    args = argparse.Namespace(arch="gpt2", layers=1, hidden=16, batch=2, seq=8, steps=1, warmup=0, threads=1,
                              modes=["nonprivate", "bk"])
    results = run_all(args)
    assert [r["mode"] for r in results] == ["nonprivate", "bk"]
    assert results[0]["ratio_to_nonprivate"] == 1.0
    for r in results:
        assert r["steps_per_s"] > 0 and r["peak_rss_mb"] > 50
