"""Plaintext evaluation of a generation model on one split of a data set: generate, then score."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from privformers.data.examples import group_references
from privformers.data.registry import read_pairs
from privformers.data.splits import SPLIT_NAMES, split_pairs
from privformers.metrics.names import DEFAULT_METRICS


@dataclass
class EvaluationResult:
    """Scores of one model on one split, with the generated texts and the metrics that could not run."""

    model: str
    task: str
    split: str
    sources: int
    references: int
    scores: dict[str, float]
    unavailable: dict[str, str]
    hypotheses: list[str] = field(repr=False)


def load_causal_lm(model_path: str | Path):
    """Load a ``save_pretrained`` causal LM and its tokenizer from a local folder; a distilled student
    (a folder with a recipe) comes back converted by its recipe."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from privformers.approx.checkpoint import load_student, read_recipe

    if not (Path(model_path) / "config.json").is_file():
        raise FileNotFoundError(f"model folder not found or has no config.json: {model_path}")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if read_recipe(model_path) is not None:
        return load_student(model_path, AutoModelForCausalLM), tokenizer
    return AutoModelForCausalLM.from_pretrained(model_path).eval(), tokenizer


def mpc_generator(model_path: str | Path, material_mb: float = 512.0, timeout: float = 7200.0,
                  costs: list[dict] | None = None, batch_size: int = 8) -> Callable[..., list[str]]:
    """A ``generate`` for ``evaluate_generation`` that runs every source under MPC (client, server and
    dealer as local processes over TLS, one session; prompts of equal token length share a pass, at
    most ``batch_size``); each prompt's share of the online cost is appended to costs. A delexicalised
    model (``privformers_delex.json``) gets placeholders in its prompts; the values stay in this process
    (the client's) and go back into the decoded texts."""
    from privformers.generation.many import mpc_generate
    from privformers.lm.delex import load_delex, relexicalise
    from privformers.lm.prompt import format_prompt

    delex = load_delex(model_path)

    def generate(model, tokenizer, sources: Sequence[str], max_new_tokens: int = 96) -> list[str]:
        prompts = [delex.prompt(s) if delex is not None else None for s in sources]
        texts = [p.text if p is not None else s for p, s in zip(prompts, sources)]
        ids = [tokenizer(format_prompt(t), add_special_tokens=False)["input_ids"] for t in texts]
        results = mpc_generate(model_path, ids, max_new_tokens, tokenizer.eos_token_id, timeout,
                               material_mb=material_mb, batch_size=batch_size)
        if costs is not None:
            costs.extend({k: v for k, v in r.items() if k != "tokens"} for r in results)
        return [relexicalise(tokenizer.decode(r["tokens"], skip_special_tokens=True).strip(),
                             p.mapping if p is not None else {}) for r, p in zip(results, prompts)]

    return generate


def select_groups(
    task: str, data: str | Path, split: str, validation_fraction: float, test_fraction: float, split_seed: int,
    split_by: str = "mr",
) -> list[tuple[str, list[str]]]:
    """The (source, references) groups of one split (``all`` for the whole file), split by MR, by restaurant
    name or both (``privformers.data.splits.split_pairs``)."""
    if split not in (*SPLIT_NAMES, "all"):
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join((*SPLIT_NAMES, 'all'))}")
    pairs = read_pairs(task, data)
    if split != "all":
        pairs = split_pairs(pairs, split_by, validation_fraction, test_fraction, split_seed)[split]
    return group_references(pairs)


def evaluate_generation(
    model_path: str | Path,
    data: str | Path,
    task: str = "e2e",
    split: str = "test",
    validation_fraction: float = 0.05,
    test_fraction: float = 0.10,
    split_seed: int = 0,
    limit: int | None = None,
    max_new_tokens: int = 96,
    metrics: Sequence[str] = DEFAULT_METRICS,
    bertscore_model: str | Path | None = None,
    generate: Callable[..., list[str]] | None = None,
    split_by: str = "mr",
) -> EvaluationResult:
    """Greedy-generate for every source of the split (``generate`` can swap in another runtime) and score."""
    from privformers.lm.generate import generate_texts
    from privformers.metrics.suite import compute_metrics

    groups = select_groups(task, data, split, validation_fraction, test_fraction, split_seed, split_by)[:limit]
    if not groups:
        raise ValueError(f"split {split!r} of {data} is empty")
    model, tokenizer = load_causal_lm(model_path)
    hypotheses = (generate or generate_texts)(
        model, tokenizer, [s for s, _ in groups], max_new_tokens=max_new_tokens
    )
    references = [refs for _, refs in groups]
    scores, unavailable = compute_metrics(hypotheses, references, metrics, bertscore_model,
                                          sources=[s for s, _ in groups])
    return EvaluationResult(
        str(model_path), task, split, len(groups), sum(map(len, references)), scores, unavailable, hypotheses
    )


def mpc_summary(costs: list[dict], steps: int) -> dict:
    """Mean online cost per decode token over all prompts (each prompt's share of its pass), and the
    totals, from ``mpc_generate``'s costs."""
    decode = sum(c["decode_steps"] for c in costs) or 1
    return {"prompts": len(costs), "steps_per_prompt": steps, "passes": round(sum(1 / c["batch"] for c in costs)),
            "decode_seconds_per_token": sum(c["decode_seconds"] for c in costs) / decode,
            "decode_bytes_per_token": sum(c["decode_bytes"] for c in costs) / decode,
            "decode_rounds_per_token": sum(c["decode_rounds"] for c in costs) / decode,
            "first_step_seconds_mean": sum(c["first_seconds"] for c in costs) / max(len(costs), 1),
            "final_seconds_total": sum(c.get("final_seconds", 0.0) for c in costs),
            "online_seconds_total": sum(c["first_seconds"] + c["decode_seconds"] + c.get("final_seconds", 0.0)
                                        for c in costs)}
