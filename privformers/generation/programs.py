"""The registered program ``generate``: private greedy generation, for ``privformers party`` processes."""

from __future__ import annotations

from typing import Any

from privformers.generation.models import check_length, from_args
from privformers.generation.program import generate_program
from privformers.mpc.programs import register_program, to_json
from privformers.mpc.session import Program


def _format(role: str, result: Any) -> dict:
    return {"result": to_json(result)}


@register_program("generate", _format)
def generate(args: dict) -> Program:
    """Args: model (a save_pretrained folder), hf_config (architecture only) or arch/size/seed/config
    (random weights); prompt (ids; parties other than the client may give prompt_len instead);
    max_new_tokens, reveal_logits, use_cache (default true), bits, progress."""
    spec = from_args(args)
    prompt = [int(t) for t in args["prompt"]] if "prompt" in args else [0] * int(args["prompt_len"])
    check_length(spec, len(prompt), int(args["max_new_tokens"]))
    return generate_program(spec.factory, spec.weights, prompt,
                            int(args["max_new_tokens"]), bool(args.get("reveal_logits", False)),
                            bool(args.get("use_cache", True)), int(args.get("bits", 48)),
                            bool(args.get("progress", False)))
