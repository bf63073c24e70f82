"""bench dp measures each mode; the subprocess orchestration is exercised in a slow test."""

from __future__ import annotations

import pytest

from privformers.dp.bench import DPBenchConfig, run_all, run_worker


def test_worker_measures_speed_and_memory():
    result = run_worker("bk", "gpt2", layers=1, hidden=16, batch=2, seq=8, steps=1, warmup=0, threads=1)
    assert result["mode"] == "bk" and result["steps_per_s"] > 0 and result["peak_mb"] > 50
    assert result["processes"] == 1 and result["memory"].startswith("resident set of rank 0")
    assert 0 <= result["step_extra_mb"] < result["peak_mb"]


@pytest.mark.slow
def test_bench_reports_every_mode():
    args = DPBenchConfig(arch="gpt2", layers=1, hidden=16, batch=2, seq=8, steps=1, warmup=0, threads=1,
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


def test_worker_command_uses_torchrun_for_several_ranks_and_for_fsdp():
    from privformers.dp.bench import worker_command

    args = DPBenchConfig(arch="llama", size="1b", layers=2, hidden=None, batch=8, seq=64, steps=1, warmup=0,
                              threads=1, lora=8, dtype="bfloat16", nproc=1, fsdp=False)
    assert worker_command("bk", args)[1:3] == ["-m", "privformers.cli.bench.dp"]
    assert "--hidden" not in worker_command("bk", args) and "--layers" in worker_command("bk", args)
    for nproc, fsdp in ((2, False), (1, True)):
        args.nproc, args.fsdp = nproc, fsdp
        cmd = worker_command("bk", args)
        assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        assert ("--fsdp" in cmd) == fsdp


@pytest.mark.slow
def test_bench_on_two_ranks_against_ddp():
    args = DPBenchConfig(arch="llama", layers=1, hidden=None, batch=4, seq=8, steps=1, warmup=1, threads=1,
                              modes=["nonprivate", "bk"], size="tiny", lora=2, dtype="float32", nproc=2,
                              fsdp=False, repeats=2)
    results = run_all(args)
    assert [r["mode"] for r in results] == ["nonprivate", "bk"]
    for r in results:
        assert r["processes"] == 2 and len(r["runs_steps_per_s"]) == 2 and r["ratio_to_nonprivate"] > 0
