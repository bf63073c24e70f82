"""The registered program ``generate``: private greedy generation, for ``privformers party`` processes."""

from __future__ import annotations

from typing import Any

from privformers.generation.many import DEFAULT_BATCH, DEFAULT_MATERIAL_MB, generate_many_program
from privformers.generation.models import check_length, from_args
from privformers.generation.program import generate_program
from privformers.mpc.programs import register_program, to_json
from privformers.mpc.session import Program


def _format(role: str, result: Any) -> dict:
    return {"result": to_json(result)}


@register_program("generate", _format)
def generate(args: dict) -> Program:
    """Args: model (a save_pretrained folder: the server), hf_config and recipe (``public_spec``: the
    client and dealer) or arch/size/seed/config (random weights); prompt (ids: the client only) and
    prompt_len (public; the others build a placeholder prompt of that length);
    max_new_tokens, reveal_logits, use_cache (default true), bits, progress, material_mb (stream the
    material, at most this many MB ahead; all parties must give the same)."""
    spec = from_args(args)
    prompt = [int(t) for t in args["prompt"]] if "prompt" in args else [0] * int(args["prompt_len"])
    if "prompt_len" in args and len(prompt) != int(args["prompt_len"]):
        raise ValueError(f"the prompt has {len(prompt)} tokens, the session's public prompt_len is "
                         f"{args['prompt_len']}")
    check_length(spec, len(prompt), int(args["max_new_tokens"]))
    return generate_program(spec.factory, spec.weights, prompt,
                            int(args["max_new_tokens"]), bool(args.get("reveal_logits", False)),
                            bool(args.get("use_cache", True)), int(args.get("bits", 48)),
                            bool(args.get("progress", False)),
                            None if args.get("material_mb") is None else int(float(args["material_mb"]) * 2**20))


@register_program("generate-many", _format)
def generate_many(args: dict) -> Program:
    """Args: model (folder: the server), hf_config and recipe (the others) or a random-weight spec as for
    ``generate``; prompts (the client only) and prompt_lens (public); max_new_tokens; optional bits,
    material_mb, progress, batch_size."""
    spec = from_args(args)
    prompts = args.get("prompts") or [[0] * int(n) for n in args["prompt_lens"]]
    if "prompt_lens" in args and [len(p) for p in prompts] != [int(n) for n in args["prompt_lens"]]:
        raise ValueError("the prompts' lengths differ from the session's public prompt_lens")
    for p in prompts:
        check_length(spec, len(p), int(args["max_new_tokens"]))
    budget = int(float(args.get("material_mb", DEFAULT_MATERIAL_MB)) * 2**20)
    return generate_many_program(spec.factory, spec.weights, prompts, int(args["max_new_tokens"]),
                                 int(args.get("bits", 48)), budget, bool(args.get("progress", False)),
                                 int(args.get("batch_size", DEFAULT_BATCH)))


from privformers.generation import layer_costs  # noqa: E402, F401 - registers generate-layers (bench generate)
