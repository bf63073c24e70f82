"""Speed and memory of private training per clipping mode, each run in its own process (or job).

The worker trains a randomly initialised model on random tokens and reports steps/s after warm-up
and peak memory: a GPT-2-architecture LM (tied embeddings, GPT-2 vocab), or a Llama-architecture
one (``--arch llama --size tiny|1b``; ``1b`` is Llama-3.2-1B's shape, ``--layers`` cuts it for
small machines), optionally with LoRA adapters (``--lora RANK``, on the attention projections).

``--nproc N`` runs each measurement as a torchrun job of N ranks: the non-private baseline under
torch's DistributedDataParallel, the private modes through the engine's data-parallel step; the
batch (``--batch``) is the global one, split over the ranks, so the two do the same work. ``--fsdp``
shards the model with FSDP2 in both (the non-private run lets FSDP reduce the gradients); it runs
under torchrun even with ``--nproc 1``, so one GPU runs the sharded code path.
``--repeats R`` alternates the modes R times (nonprivate, bk, nonprivate, bk, ...) so that a load
that changes over time hits both alike; the report gives every run and each mode's median.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

BENCH_MODES = ("nonprivate", "default", "ghost", "mixed", "bk")
LLAMA_SIZES = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=1000, tie_word_embeddings=False),
    # Llama-3.2-1B: 1.24 B parameters, tied embeddings, grouped-query attention
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True, rope_theta=500000.0),
}
LORA_TARGETS = {"gpt2": r".*\.c_attn$", "llama": r".*\.(q_proj|v_proj)$"}
WORKER_MODULE = "privformers.cli.bench.dp"   # ``python -m`` it with ``--worker MODE`` and these settings' flags


@dataclass
class DPBenchConfig:
    """The settings of ``privformers bench dp`` (its defaults are these; threads None: torch's default)."""

    arch: str = "gpt2"                     # gpt2 or llama
    size: str = "tiny"                     # llama: a preset of LLAMA_SIZES
    layers: int | None = None              # gpt2 default 4; llama: the preset's
    hidden: int | None = None              # gpt2 default 256; llama: the preset's
    batch: int = 16                        # global batch, split over the ranks
    seq: int = 128
    steps: int = 5                         # timed steps per run
    warmup: int = 1
    threads: int | None = None             # torch threads per process
    modes: list[str] = field(default_factory=lambda: list(BENCH_MODES))
    lora: int = 0                          # LoRA rank on the attention projections (0: full model)
    dtype: str = "float32"                 # or bfloat16
    nproc: int = 1                         # ranks per run (torchrun)
    fsdp: bool = False                     # shard the model with FSDP2
    repeats: int = 1                       # runs per mode, alternating the modes

    def torch_threads(self) -> int:
        return self.threads or torch.get_num_threads()


def build_model(arch: str, layers: int | None, hidden: int | None, seq: int, size: str = "tiny") -> torch.nn.Module:
    """A random model: ``gpt2`` (``layers`` x ``hidden``, default 4 x 256) or ``llama`` of ``size``
    (``layers``/``hidden`` override the preset's)."""
    if arch == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        hidden = hidden or 256
        config = GPT2Config(n_layer=layers or 4, n_embd=hidden, n_head=max(1, hidden // 64),
                            n_positions=max(seq, 1024))
        return GPT2LMHeadModel(config).train()
    if arch == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        preset = dict(LLAMA_SIZES[size])
        if layers:
            preset["num_hidden_layers"] = layers
        if hidden:
            preset["hidden_size"] = hidden
        config = LlamaConfig(max_position_embeddings=max(seq, 128), **preset)
        config._attn_implementation = "sdpa"
        return LlamaForCausalLM(config).train()
    raise ValueError(f"unsupported --arch {arch!r}; supported: gpt2, llama")


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB, None where there is none."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak(device: torch.device) -> float:
    """Start measuring peak memory now; returns the memory in use (MB). On the CPU the kernel's peak
    resident set (VmHWM) is reset through /proc/self/clear_refs, so the peak seen later is that of the
    timed steps, not of building the model (whose temporaries are larger than a small batch's step)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    now = _status_mb("VmRSS")
    return now if now is not None else float("nan")


def _peak_mb(device: torch.device) -> float:
    """Peak memory since ``_reset_peak``: torch's allocated GPU memory, or the resident set (VmHWM; the
    process's lifetime peak where /proc is missing)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(mode: str, arch: str, layers: int | None, hidden: int | None, batch: int, seq: int, steps: int,
               warmup: int, threads: int, size: str = "tiny", lora: int = 0, fsdp: bool = False,
               dtype: str = "float32") -> dict:
    """Train ``warmup + steps`` steps in ``mode`` (as one rank of a job when launched by torchrun);
    return steps/s and peak memory, measured on rank 0 between barriers."""
    from privformers.dp import PrivacyEngine, distributed

    torch.set_num_threads(threads)
    launched = distributed.launched_world() > 1 or fsdp   # --fsdp: a job even of one rank (one GPU)
    device = distributed.init_from_env() if launched else torch.device("cpu")
    rank, world = distributed.rank_and_world()
    model = build_model(arch, layers, hidden, seq, size).to(device=device, dtype=getattr(torch, dtype))
    if lora:
        from privformers.dp.lora import add_lora

        model = add_lora(model, lora, targets=LORA_TARGETS[arch], task="lm")
    if fsdp:
        from privformers.dp.sharded import shard_model

        shard_model(model)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    forward = model
    if mode != "nonprivate":
        engine = PrivacyEngine(model, batch_size=batch, sample_size=50_000, steps=1000, max_grad_norm=1.0,
                               noise_multiplier=1.0, clipping_mode=mode)
        engine.attach(optimizer)
    elif world > 1 and not fsdp:
        forward = torch.nn.parallel.DistributedDataParallel(model)
    local = batch // world + (rank < batch % world)   # this rank's share of the global batch
    generator = torch.Generator().manual_seed(rank)
    ids = torch.randint(0, model.config.vocab_size, (local, seq), generator=generator).to(device)

    def one_step():
        logits = forward(input_ids=ids).logits[:, :-1]
        loss = F.cross_entropy(logits.permute(0, 2, 1), ids[:, 1:], reduction="none").mean(dim=1)
        if mode == "nonprivate":
            (loss.sum() * world / batch).backward()   # DDP/FSDP average over ranks: the mean is sum / batch
            optimizer.step()
        else:
            optimizer.step(loss=loss)
        optimizer.zero_grad(set_to_none=True)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if world > 1:
            torch.distributed.barrier()

    for _ in range(warmup):
        one_step()
    sync()
    before_mb = _reset_peak(device)
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    sync()
    elapsed = time.perf_counter() - start
    peak_mb = _peak_mb(device)
    result = {"mode": mode, "steps_per_s": steps / elapsed, "peak_mb": peak_mb, "step_extra_mb": peak_mb - before_mb,
              "memory": ("torch.cuda allocated" if device.type == "cuda" else "resident set") + " of rank 0, peak over "
              "the timed steps; step_extra_mb: that peak less what was in use before them",
              "processes": world, "device": device.type, "batch": batch, "seq": seq,
              "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
    if launched:
        torch.distributed.destroy_process_group()
    return result


def worker_command(mode: str, config: DPBenchConfig) -> list[str]:
    """The command line of one measurement: ``python -m privformers.cli.bench.dp --worker MODE ...``, under
    torchrun with ``nproc`` > 1 or ``fsdp``."""
    c = config
    worker = ["-m", WORKER_MODULE, "--worker", mode, "--arch", c.arch, "--size", c.size,
              "--batch", str(c.batch), "--seq", str(c.seq), "--steps", str(c.steps), "--warmup",
              str(c.warmup), "--threads", str(c.torch_threads()), "--lora", str(c.lora), "--dtype", c.dtype]
    worker += ["--layers", str(c.layers)] if c.layers else []
    worker += ["--hidden", str(c.hidden)] if c.hidden else []
    worker += ["--fsdp"] if c.fsdp else []
    if c.nproc == 1 and not c.fsdp:
        return [sys.executable, *worker]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={c.nproc}", *worker]


def run_all(config: DPBenchConfig) -> list[dict]:
    """Run each mode ``repeats`` times, alternating, each in a fresh process or job; one entry per mode
    with the median steps/s, every run's, the largest peak memory, and ratios to the non-private run."""
    from tqdm import tqdm

    from privformers.dp.launch import child_env

    order = [mode for _ in range(config.repeats) for mode in config.modes]
    runs: dict[str, list[dict]] = {mode: [] for mode in config.modes}
    for mode in tqdm(order, desc="bench dp", file=sys.stderr):
        out = subprocess.run(worker_command(mode, config), capture_output=True, text=True,
                             env=child_env(config.torch_threads()))
        if out.returncode != 0:
            raise RuntimeError(f"bench worker {mode} failed:\n{out.stderr[-3000:]}")
        runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    results = []
    for measured in runs.values():
        speeds = [r["steps_per_s"] for r in measured]
        results.append({**measured[0], "steps_per_s": statistics.median(speeds), "runs_steps_per_s": speeds,
                        "peak_mb": max(r["peak_mb"] for r in measured)})
    base = next((r for r in results if r["mode"] == "nonprivate"), None)
    for r in results:
        if base is not None:
            r["ratio_to_nonprivate"] = r["steps_per_s"] / base["steps_per_s"]
            r["memory_ratio_to_nonprivate"] = r["peak_mb"] / base["peak_mb"]
    return results
