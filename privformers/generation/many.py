"""Many private generations in one session: the ``generate-many`` program and ``mpc_generate``, which
evaluation uses to measure a model's generation quality under MPC, not only in plaintext.

One session (three processes, one model setup) runs the prompts one after another. The correlated
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

from privformers.generation.models import check_length, check_weights, from_path
from privformers.generation.program import Weights, generate_program, setup_model
from privformers.mpc.party import CLIENT, Party
from privformers.mpc.session import Program

DEFAULT_MATERIAL_MB = 512


def _cost(result: dict) -> dict:
    """Totals of one prompt: first step (with the prefill), decode steps, and ER's final head + argmax."""
    steps = result["per_token"]
    decode = steps[1:]
    out = {"first_seconds": steps[0]["seconds"], "first_bytes": steps[0]["online_bytes"],
           "decode_steps": len(decode), "decode_seconds": sum(s["seconds"] for s in decode),
           "decode_bytes": sum(s["online_bytes"] for s in decode), "decode_rounds": sum(s["rounds"] for s in decode)}
    if "final" in result:
        out.update(final_seconds=result["final"]["seconds"], final_bytes=result["final"]["online_bytes"])
    return out


def generate_many_program(factory: Callable[[], Any], weights: Weights, prompts: Sequence[Sequence[int]],
                          max_new_tokens: int, bits: int = 48, material_budget: int = DEFAULT_MATERIAL_MB << 20,
                          progress: bool = False) -> Program:
    """Greedy generation for each prompt in turn, in one session. Client result: per prompt the tokens
    and cost totals; the server's: the cost totals (what it sent)."""
    if not prompts or any(not p for p in prompts) or max_new_tokens < 1:
        raise ValueError("need non-empty prompts and max_new_tokens >= 1")

    def run(party: Party, model: Any) -> list[dict]:
        out = []
        for i, prompt in enumerate(prompts):
            t0 = time.perf_counter()
            result = generate_program(factory, weights, list(prompt), max_new_tokens, bits=bits).run(party, model)
            out.append({"tokens": result["tokens"], **_cost(result)})
            if progress and party.role == CLIENT and party.mode == "online":
                print(f"[client] prompt {i + 1}/{len(prompts)} ({time.perf_counter() - t0:.1f} s)",
                      file=sys.stderr, flush=True)
        return out

    return Program(run=run, setup=lambda party: setup_model(party, factory, weights), material_budget=material_budget)


def mpc_generate(model_path: str | Path, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 eos_token_id: int | None = None, timeout: float = 7200.0, frac_bits: int = 16,
                 material_mb: float = DEFAULT_MATERIAL_MB) -> list[dict]:
    """Generate for every prompt under MPC with three local processes over TLS; per prompt the new
    tokens (cut before the first ``eos_token_id``) and the online cost totals."""
    from privformers.mpc.launch import LaunchError, launch_local

    spec = from_path(model_path)
    check_weights(model_path)
    for p in prompts:
        check_length(spec, len(p), max_new_tokens)
    args = {"model": str(Path(model_path).resolve()), "prompt_lens": [len(p) for p in prompts],
            "max_new_tokens": max_new_tokens, "material_mb": material_mb, "progress": True}
    try:
        reports = launch_local("generate-many", args, timeout, frac_bits, follow="[client] prompt",
                               client_args={"prompts": [list(map(int, p)) for p in prompts]})
    except LaunchError as exc:
        raise RuntimeError(f"private generation failed: {exc}") from None
    results = reports["client"]["result"]
    for r in results:
        tokens = r["tokens"]
        r["tokens"] = tokens[:tokens.index(eos_token_id)] if eos_token_id in tokens else tokens
    return results
