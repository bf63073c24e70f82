"""Many private generations in one session, for evaluation under MPC: ``mpc_generate``, a thin wrapper
over ``generate`` (three local processes, lengths grouped, material streamed), and ``mpc_generator``, the
same as a ``generate`` for ``privformers.lm.evaluate.evaluate_generation`` (``evaluate --mpc``).

Evaluation measures a model's generation quality under MPC, not only in plaintext. Prompts of the
same token length share a pass (``batch_size`` rows at most), which divides the rounds of every step
between them; each prompt's length is public here (``lengths_public``), as it always was for
``evaluate --mpc``: it also runs students that cannot pad (Merge Module, Embedding Resending). The
correlated material is streamed: a whole evaluation's material would not fit in memory. Each prompt
runs exactly ``max_new_tokens`` steps; the client cuts the text at the end-of-text token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

DEFAULT_MATERIAL_MB = 512
DEFAULT_BATCH = 8


def mpc_generate(model_path: str | Path, prompts: Sequence[Sequence[int]], max_new_tokens: int,
                 eos_token_id: int | None = None, timeout: float = 7200.0, frac_bits: int = 16,
                 material_mb: float = DEFAULT_MATERIAL_MB, batch_size: int = DEFAULT_BATCH,
                 suppress: Sequence[Sequence[int]] | None = None) -> list[dict]:
    """Generate for every prompt under MPC with three local processes over TLS; per prompt the new
    tokens (cut before the first ``eos_token_id``) and its share of its pass's online cost. suppress: per
    prompt, token ids it may never choose (the client's)."""
    from transformers import GenerationConfig

    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import LocalProcesses

    config = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_id=eos_token_id)
    out = generate(model_path, [list(map(int, p)) for p in prompts], config,
                   parties=LocalProcesses(timeout=timeout, material_budget_mb=material_mb),
                   options=MpcOptions(batch_size=batch_size, lengths_public=True, frac_bits=frac_bits, progress=True),
                   suppress=suppress)
    results = []
    for tokens, cost in zip(out.token_ids, out.cost["per_prompt"]):
        if eos_token_id is not None and tokens and tokens[-1] == eos_token_id:
            tokens = tokens[:-1]
        results.append({"tokens": tokens, **cost})
    return results


def mpc_generator(model_path: str | Path, material_mb: float = DEFAULT_MATERIAL_MB, timeout: float = 7200.0,
                  costs: list[dict] | None = None, batch_size: int = DEFAULT_BATCH) -> Callable[..., list[str]]:
    """A ``generate`` for ``privformers.lm.evaluate.evaluate_generation`` that runs every source under MPC
    (``mpc_generate``: client, server and dealer as local processes over TLS, one session; prompts of equal
    token length share a pass, at most ``batch_size``); each prompt's share of the online cost is appended to
    costs. A delexicalised model (``privformers_delex.json``) gets placeholders in its prompts; the values stay
    in this process (the client's) and go back into the decoded texts; the placeholders of slots a prompt
    lacks are suppressed, as in plaintext."""
    from privformers.lm.delex import absent_placeholder_ids, load_delex, relexicalise
    from privformers.lm.prompt import format_prompt

    delex = load_delex(model_path)

    def generate(model, tokenizer, sources: Sequence[str], max_new_tokens: int = 96) -> list[str]:
        prompts = [delex.prompt(s) if delex is not None else None for s in sources]
        texts = [p.text if p is not None else s for p, s in zip(prompts, sources)]
        ids = [tokenizer(format_prompt(t), add_special_tokens=False)["input_ids"] for t in texts]
        banned = None if delex is None else absent_placeholder_ids(delex, tokenizer, [p.mapping for p in prompts])
        results = mpc_generate(model_path, ids, max_new_tokens, tokenizer.eos_token_id, timeout,
                               material_mb=material_mb, batch_size=batch_size, suppress=banned)
        if costs is not None:
            costs.extend({k: v for k, v in r.items() if k != "tokens"} for r in results)
        return [relexicalise(tokenizer.decode(r["tokens"], skip_special_tokens=True).strip(),
                             p.mapping if p is not None else {}) for r, p in zip(results, prompts)]

    return generate


def mpc_summary(costs: list[dict], steps: int) -> dict:
    """Mean online cost per decode token over all prompts (each prompt's share of its pass), and the
    totals, from ``mpc_generate``'s costs (``evaluate --mpc``, the pipeline's check)."""
    decode = sum(c["decode_steps"] for c in costs) or 1
    return {"prompts": len(costs), "steps_per_prompt": steps, "passes": round(sum(1 / c["batch"] for c in costs)),
            "decode_seconds_per_token": sum(c["decode_seconds"] for c in costs) / decode,
            "decode_bytes_per_token": sum(c["decode_bytes"] for c in costs) / decode,
            "decode_rounds_per_token": sum(c["decode_rounds"] for c in costs) / decode,
            "first_step_seconds_mean": sum(c["first_seconds"] for c in costs) / max(len(costs), 1),
            "final_seconds_total": sum(c.get("final_seconds", 0.0) for c in costs),
            "online_seconds_total": sum(c["first_seconds"] + c["decode_seconds"] + c.get("final_seconds", 0.0)
                                        for c in costs)}
