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
    """Args: model (a save_pretrained folder) or arch/size/seed/config (random weights), prompt (ids),
    max_new_tokens, reveal_logits, use_cache (default true), bits, progress."""
    spec = from_args(args)
    check_length(spec, len(args["prompt"]), int(args["max_new_tokens"]))
    return generate_program(spec.factory, spec.weights, [int(t) for t in args["prompt"]],
                            int(args["max_new_tokens"]), bool(args.get("reveal_logits", False)),
                            bool(args.get("use_cache", True)), int(args.get("bits", 48)),
                            bool(args.get("progress", False)))
