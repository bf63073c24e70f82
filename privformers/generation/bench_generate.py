"""One run of ``privformers bench generate`` (and each point of ``bench sweep``, ``sweep.py``): a random-weight
model converted by a method's recipe, a seeded random prompt, and one private generation of it as three local
processes, reported as ``privformers generate`` reports one prompt."""

from __future__ import annotations

from privformers.generation.report import single_report

METHODS = {  # --method: the approximation recipe applied to the random-weight model (None: exact)
    "vanilla": None, "mpcformer": "mpcformer-quad-2quad", "mpcformer-quad-2quad": "mpcformer-quad-2quad",
    "mpcformer-quad-2relu": "mpcformer-quad-2relu", "thex": "thex", "merge-er": "merge-er", "merge-mm": "merge-mm",
    "merge": "merge", "merge-quad-affine": "merge-quad-affine",
}
GPT2_SIZES = ("tiny", "small", "base")


def random_bench_model(size: str, seed: int, recipe: str | dict | None, overrides: dict, prompt_len: int,
                       new_tokens: int, arch: str = "gpt2") -> tuple[object, list[int]]:
    """(``RandomModel``, a seeded random prompt) for a benchmark run of a GPT-2 or a Llama-family decoder
    (``arch``). Raises PromptTooLongError when the prompt and new tokens do not fit the model's context,
    ValueError for a size the arch does not have or a recipe on a Llama-family decoder."""
    import torch

    from privformers.generation.api import RandomModel
    from privformers.models.spec import check_length

    if arch == "gpt2" and size not in GPT2_SIZES:
        raise ValueError(f"gpt2 sizes are {', '.join(GPT2_SIZES)}, not {size!r}")
    if arch != "gpt2" and recipe is not None:
        raise ValueError("--method: approximation recipes are for gpt2 only")
    model = RandomModel(arch, size, seed, recipe, dict(overrides))
    spec = model.spec()
    check_length(spec, prompt_len, new_tokens)
    g = torch.Generator().manual_seed(seed)
    return model, torch.randint(1, spec.config.vocab_size, (prompt_len,), generator=g).tolist()


def bench_run(model: object, prompt: list[int], new_tokens: int, *, reveal_logits: bool = False,
              use_cache: bool = True, timeout: float = 3600.0, frac_bits: int = 16, insecure: bool = False,
              server_gemm: object = None, material_mb: float | None = None, config: object = None,
              layers: bool = False) -> dict:
    """One private generation of a random-weight model as three local processes (``generate``), as the
    one-prompt report of ``privformers generate``. config: a GenerationConfig (sampling); its
    max_new_tokens is new_tokens, and every step runs (no end-of-text cut). layers: run the
    ``generate-layers`` program, whose parties also report their cost inside the decoder layers
    (``_layers`` in the report, for ``bench_commands.layer_summary``)."""
    from transformers import GenerationConfig

    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import LocalProcesses
    from privformers.mpc.launch import LOCAL_DEFAULT

    parties = LocalProcesses(timeout, insecure, server_gemm or LOCAL_DEFAULT, material_mb,
                             program="generate-layers" if layers else "generate")
    options = MpcOptions(reveal_logits=reveal_logits, use_cache=use_cache, frac_bits=frac_bits, progress=True)
    values = {} if config is None else {k: v for k, v in config.to_diff_dict().items() if k != "transformers_version"}
    values.update(max_new_tokens=new_tokens, eos_token_id=[])
    out = generate(model, prompt, GenerationConfig(**values), parties=parties, options=options)
    return single_report(out)
