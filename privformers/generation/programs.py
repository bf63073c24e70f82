"""The registered programs ``generate``: private generation for ``privformers party`` processes (what
``generate(..., parties=LocalProcesses())`` and ``privformers launch --program generate`` run), and
``generate-layers``, the same with its cost per decoder layer (``layer_costs.py``; ``bench generate``)."""

from __future__ import annotations

from typing import Any

from privformers.generation.layer_costs import with_layer_costs
from privformers.generation.plan import Plan
from privformers.generation.program import generation_program
from privformers.models.load import from_args
from privformers.models.spec import check_length
from privformers.mpc.programs import register_program, to_json
from privformers.mpc.session import Program


def _format(role: str, result: Any) -> dict:
    return {"result": to_json(result)}


@register_program("generate", _format)
def generate(args: dict) -> Program:
    """Args, public: the model (hf_config and recipe, as ``public_spec``; or arch/size/seed/config/recipe
    for seeded random weights), plan (``Plan.to_json``), progress, stream, material_mb (stream the
    material at most this many MB ahead; every party gives the same). The server's own: model (its
    ``save_pretrained`` folder). The client's own: prompts (token id rows in pass order), stop_ids and
    suppress (per prompt: token ids it may never choose)."""
    from privformers.generation.api import print_stream_line

    spec = from_args(args)
    plan = Plan.from_json(args["plan"])
    for _, width in plan.passes:
        check_length(spec, width, plan.max_new_tokens)
    prompts = args.get("prompts")
    if prompts is not None:
        prompts = [[int(t) for t in row] for row in prompts]
    stop_ids = [int(t) for t in args.get("stop_ids", ())]
    suppress = args.get("suppress")
    if suppress is not None:
        suppress = [[int(t) for t in row] for row in suppress]
    on_tokens = print_stream_line if args.get("stream") and prompts is not None else None
    budget = None if args.get("material_mb") is None else int(float(args["material_mb"]) * 2**20)
    return generation_program(spec.factory, spec.weights, plan, prompts, stop_ids, on_tokens,
                              bool(args.get("progress", False)), budget, suppress)


@register_program("generate-layers", _format)
def generate_layers(args: dict) -> Program:
    """Args: as for ``generate``. The result adds each party's cost inside the decoder layers
    (``layer_costs.with_layer_costs``)."""
    return with_layer_costs(generate(args))
