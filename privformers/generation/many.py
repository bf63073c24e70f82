"""Many private generations in one session: the ``generate-many`` program and ``mpc_generate``, which
evaluation uses to measure a model's generation quality under MPC, not only in plaintext.

One session (three processes, one model setup) runs the prompts pass by pass: prompts of the same
token length share a pass (``batch_size`` rows at most), which divides the rounds of every step
between them; the server learns the lengths, as it does unbatched. The correlated
material is streamed (``material_budget``): a whole evaluation's material would not fit in memory.
Prompt lengths and the number of new tokens are public, as in ``generate``; the prompts' tokens
go to the client process only. Each prompt runs exactly ``max_new_tokens`` steps (stopping at the
end-of-text token would tell the server when it was chosen); the client cuts the text there.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from privformers.generation.models import check_length, check_weights, from_path, public_spec
from privformers.generation.program import Weights, batch_run, setup_model
from privformers.mpc.party import CLIENT, Party
from privformers.mpc.session import Program
from privformers.secure.batching import length_batches

DEFAULT_MATERIAL_MB = 512
DEFAULT_BATCH = 8


def _cost(result: dict, rows: int) -> dict:
    """One prompt's share of its pass (the pass's totals over its rows): first step (with the prefill),
    decode steps, and ER's final head + argmax; ``batch`` says how many prompts shared the pass."""
    steps = result["per_token"]
    decode = steps[1:]
    out = {"batch": rows, "first_seconds": steps[0]["seconds"] / rows, "first_bytes": steps[0]["online_bytes"] / rows,
           "decode_steps": len(decode), "decode_seconds": sum(s["seconds"] for s in decode) / rows,
           "decode_bytes": sum(s["online_bytes"] for s in decode) / rows,
           "decode_rounds": sum(s["rounds"] for s in decode) / rows}
    if "final" in result:
        out.update(final_seconds=result["final"]["seconds"] / rows, final_bytes=result["final"]["online_bytes"] / rows)
    return out


def generate_many_program(factory: Callable[[], Any], weights: Weights, prompts: Sequence[Sequence[int]],
                          max_new_tokens: int, bits: int = 48, material_budget: int = DEFAULT_MATERIAL_MB << 20,
                          progress: bool = False, batch_size: int = DEFAULT_BATCH) -> Program:
    """Greedy generation for every prompt in one session, equal lengths batched (``length_batches``).
    Client result, in input order: per prompt the tokens and its share of its pass's cost; the
    server's: the same costs (what it sent), tokens None."""
    if not prompts or any(not p for p in prompts) or max_new_tokens < 1:
        raise ValueError("need non-empty prompts and max_new_tokens >= 1")
    passes = length_batches([len(p) for p in prompts], batch_size)

    def run(party: Party, model: Any) -> list[dict]:
        out: list[dict] = [{} for _ in prompts]
        done = 0
        for rows in passes:
            t0 = time.perf_counter()
            result = batch_run(party, model, [list(prompts[i]) for i in rows], max_new_tokens, bits=bits)
            for k, i in enumerate(rows):
                tokens = None if result["tokens"] is None else result["tokens"][k]
                out[i] = {"tokens": tokens, **_cost(result, len(rows))}
            done += len(rows)
            if progress and party.role == CLIENT and party.mode == "online":
                print(f"[client] prompt {done}/{len(prompts)} ({len(rows)} in this pass, "
                      f"{time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        return out

    return Program(run=run, setup=lambda party: setup_model(party, factory, weights), material_budget=material_budget)


def mpc_generate(model_path: str | Path, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 eos_token_id: int | None = None, timeout: float = 7200.0, frac_bits: int = 16,
                 material_mb: float = DEFAULT_MATERIAL_MB, batch_size: int = DEFAULT_BATCH) -> list[dict]:
    """Generate for every prompt under MPC with three local processes over TLS; per prompt the new
    tokens (cut before the first ``eos_token_id``) and its share of the online cost."""
    from privformers.mpc.launch import LaunchError, launch_local

    spec = from_path(model_path)
    check_weights(model_path)
    for p in prompts:
        check_length(spec, len(p), max_new_tokens)
    args = {**public_spec(spec), "prompt_lens": [len(p) for p in prompts],
            "max_new_tokens": max_new_tokens, "material_mb": material_mb, "progress": True,
            "batch_size": batch_size}
    try:   # the prompts reach the client process alone, the model folder the server alone
        reports = launch_local("generate-many", args, timeout, frac_bits, follow="[client] prompt",
                               client_args={"prompts": [list(map(int, p)) for p in prompts]},
                               server_args={"model": str(Path(model_path).resolve())})
    except LaunchError as exc:
        raise RuntimeError(f"private generation failed: {exc}") from None
    results = reports["client"]["result"]
    for r in results:
        tokens = r["tokens"]
        r["tokens"] = tokens[:tokens.index(eos_token_id)] if eos_token_id in tokens else tokens
    return results
