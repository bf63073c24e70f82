"""``privformers bench dp``: steps/s and peak memory of each clipping mode against non-private.

Each measurement runs in a process of its own: ``python -m privformers.cli.bench.dp --worker MODE ...``
(``privformers.dp.bench.worker_command``), whose flags are the target's own."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from privformers.cli.argtypes import non_negative_int, positive_int, strict_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark settings shared by the CLI target and the worker (defaults: ``DPBenchConfig``'s)."""
    from privformers.dp.bench import BENCH_MODES, LLAMA_SIZES, DPBenchConfig

    D = DPBenchConfig
    parser.add_argument("--arch", default=D.arch, choices=("gpt2", "llama"))
    parser.add_argument("--size", default=D.size, choices=sorted(LLAMA_SIZES),
                        help="llama: preset shape (1b: Llama-3.2-1B); --layers/--hidden override it")
    parser.add_argument("--layers", type=positive_int, help="layers (gpt2 default 4; llama: the preset's)")
    parser.add_argument("--hidden", type=positive_int, help="hidden width (gpt2 default 256; llama: the preset's)")
    parser.add_argument("--batch", type=positive_int, default=D.batch, help="global batch, split over --nproc ranks")
    parser.add_argument("--seq", type=positive_int, default=D.seq)
    parser.add_argument("--steps", type=positive_int, default=D.steps, help="timed steps per run")
    parser.add_argument("--warmup", type=non_negative_int, default=D.warmup)
    parser.add_argument("--threads", type=positive_int, default=D.threads,
                        help="torch threads per process")
    parser.add_argument("--modes", nargs="+", default=list(BENCH_MODES), choices=BENCH_MODES)
    parser.add_argument("--lora", type=non_negative_int, default=D.lora, metavar="RANK",
                        help="train LoRA adapters of this rank on the attention projections (0: full model)")
    parser.add_argument("--dtype", default=D.dtype, choices=("float32", "bfloat16"), help="model dtype")
    parser.add_argument("--nproc", type=positive_int, default=D.nproc,
                        help="ranks per run (torchrun; gloo on the CPU, NCCL on GPUs): DDP against DP data parallel")
    parser.add_argument("--fsdp", action="store_true",
                        help="shard the model with FSDP2 over the --nproc ranks (with 1: one rank, one GPU)")
    parser.add_argument("--repeats", type=positive_int, default=D.repeats, help="runs per mode, alternating the modes")


def bench_config(args: argparse.Namespace) -> object:
    """The ``DPBenchConfig`` of the parsed options."""
    from privformers.dp.bench import DPBenchConfig

    return DPBenchConfig(**{f.name: getattr(args, f.name) for f in fields(DPBenchConfig)})


def _run(args: argparse.Namespace) -> int:
    from privformers.dp.bench import run_all

    results = run_all(bench_config(args))
    if args.json:
        print(strict_json(results, indent=1))
    else:
        for r in results:
            runs = " ".join(f"{s:.3f}" for s in r["runs_steps_per_s"])
            print(f"{r['mode']:>10}  {r['steps_per_s']:.3f} steps/s (runs {runs})  {r['peak_mb']:.0f} MB  "
                  f"x{r.get('ratio_to_nonprivate', float('nan')):.2f}  ({r['processes']} process(es))")
    return 0


def register_bench(bench_subparsers) -> None:
    """Add the ``dp`` benchmark target."""
    parser = bench_subparsers.add_parser("dp", help="DP training speed/memory per clipping mode "
                                         "(--nproc N: against DDP)")
    add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)


def worker_main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m privformers.cli.bench.dp --worker MODE ...``: one measurement, its
    JSON line on stdout (rank 0)."""
    from privformers.dp.bench import BENCH_MODES, run_worker

    parser = argparse.ArgumentParser(prog="privformers bench dp worker")
    parser.add_argument("--worker", choices=BENCH_MODES, required=True)
    add_arguments(parser)
    a = parser.parse_args(argv)
    c = bench_config(a)
    result = run_worker(a.worker, c.arch, c.layers, c.hidden, c.batch, c.seq, c.steps, c.warmup, c.torch_threads(),
                        c.size, c.lora, c.fsdp, c.dtype)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
