"""Speed and memory of private training per clipping mode, each mode in its own process.

The worker trains a randomly initialised GPT-2-architecture LM (tied embeddings, GPT-2 vocab) on
random tokens and reports steps/s after warm-up and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from privformers.argtypes import non_negative_int, positive_int

BENCH_MODES = ("nonprivate", "default", "ghost", "mixed", "bk")


def build_model(arch: str, layers: int, hidden: int, seq: int) -> torch.nn.Module:
    """A random model of the requested architecture (only ``gpt2`` for now)."""
    if arch != "gpt2":
        raise ValueError(f"unsupported --arch {arch!r}; supported: gpt2")
    from transformers import GPT2Config, GPT2LMHeadModel

    heads = max(1, hidden // 64)
    config = GPT2Config(n_layer=layers, n_embd=hidden, n_head=heads, n_positions=max(seq, 1024))
    return GPT2LMHeadModel(config).train()


def run_worker(mode: str, arch: str, layers: int, hidden: int, batch: int, seq: int, steps: int,
               warmup: int, threads: int) -> dict:
    """Train ``warmup + steps`` steps in ``mode``; return measured steps/s and peak RSS."""
    from privformers.dp import PrivacyEngine

    torch.set_num_threads(threads)
    model = build_model(arch, layers, hidden, seq)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    if mode != "nonprivate":
        engine = PrivacyEngine(model, batch_size=batch, sample_size=50_000, steps=1000, max_grad_norm=1.0,
                               noise_multiplier=1.0, clipping_mode=mode)
        engine.attach(optimizer)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))

    def one_step():
        logits = model(input_ids=ids).logits[:, :-1]
        loss = F.cross_entropy(logits.permute(0, 2, 1), ids[:, 1:], reduction="none").mean(dim=1)
        if mode == "nonprivate":
            loss.mean().backward()
            optimizer.step()
        else:
            optimizer.step(loss=loss)
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        one_step()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "steps_per_s": steps / elapsed, "peak_rss_mb": peak_mb}


def run_all(args: argparse.Namespace) -> list[dict]:
    """Run each mode in a fresh subprocess and add ratios to the non-private run."""
    from tqdm import tqdm

    results = []
    for mode in tqdm(args.modes, desc="bench dp", file=sys.stderr):
        cmd = [sys.executable, "-m", "privformers.dp.bench", "--worker", mode, "--arch", args.arch,
               "--layers", str(args.layers), "--hidden", str(args.hidden), "--batch", str(args.batch),
               "--seq", str(args.seq), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"bench worker {mode} failed:\n{out.stderr[-2000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next((r for r in results if r["mode"] == "nonprivate"), None)
    for r in results:
        if base is not None:
            r["ratio_to_nonprivate"] = r["steps_per_s"] / base["steps_per_s"]
            r["memory_ratio_to_nonprivate"] = r["peak_rss_mb"] / base["peak_rss_mb"]
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark settings shared by the CLI target and the worker."""
    parser.add_argument("--arch", default="gpt2", choices=("gpt2",))
    parser.add_argument("--layers", type=positive_int, default=4)
    parser.add_argument("--hidden", type=positive_int, default=256)
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--seq", type=positive_int, default=128)
    parser.add_argument("--steps", type=positive_int, default=5, help="timed steps per mode")
    parser.add_argument("--warmup", type=non_negative_int, default=1)
    parser.add_argument("--threads", type=positive_int, default=torch.get_num_threads(), help="torch threads")
    parser.add_argument("--modes", nargs="+", default=list(BENCH_MODES), choices=BENCH_MODES)


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m privformers.dp.bench --worker MODE ...``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=BENCH_MODES, required=True)
    add_arguments(parser)
    a = parser.parse_args(argv)
    print(json.dumps(run_worker(a.worker, a.arch, a.layers, a.hidden, a.batch, a.seq, a.steps, a.warmup,
                                a.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
