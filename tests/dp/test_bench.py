"""bench dp measures each mode; the subprocess orchestration is exercised in a slow test."""

from __future__ import annotations

import argparse

import pytest

from privformers.dp.bench import run_all, run_worker


def test_worker_measures_speed_and_memory():
    result = run_worker("bk", "gpt2", layers=1, hidden=16, batch=2, seq=8, steps=1, warmup=0, threads=1)
    assert result["mode"] == "bk" and result["steps_per_s"] > 0 and result["peak_mb"] > 50
    assert result["processes"] == 1 and result["memory"].startswith("resident set of rank 0")
    assert 0 <= result["step_extra_mb"] < result["peak_mb"]


@pytest.mark.slow
def test_bench_reports_every_mode():
    args = argparse.Namespace(arch="gpt2", layers=1, hidden=16, batch=2, seq=8, steps=1, warmup=0, threads=1,
                              modes=["nonprivate", "bk"], size="tiny", lora=0, dtype="float32", nproc=1,
                              fsdp=False, repeats=1)
    results = run_all(args)
    assert [r["mode"] for r in results] == ["nonprivate", "bk"]
    assert results[0]["ratio_to_nonprivate"] == 1.0
    for r in results:
        assert r["steps_per_s"] > 0 and r["peak_mb"] > 50


def test_unknown_arch_raises():
    with pytest.raises(ValueError, match="unsupported --arch"):
        run_worker("bk", "mamba", 1, 16, 2, 8, 1, 0, 1)
