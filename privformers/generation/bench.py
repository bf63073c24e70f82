"""Private generation of a random-weight model as a benchmark: the model and prompt (``random_bench_model``),
one measured run as three local processes (``bench_run``), and a decode step's cost per decoder layer
(``layer_summary``). ``privformers bench generate`` and ``bench sweep`` (``privformers.generation.sweep``)
run on these."""

from __future__ import annotations

GPT2_SIZES = ("tiny", "small", "base")

METHODS = {  # --method: the approximation recipe applied to the random-weight model (None: exact)
    "vanilla": None, "mpcformer": "mpcformer-quad-2quad", "mpcformer-quad-2quad": "mpcformer-quad-2quad",
    "mpcformer-quad-2relu": "mpcformer-quad-2relu", "thex": "thex", "merge-er": "merge-er", "merge-mm": "merge-mm",
    "merge": "merge", "merge-quad-affine": "merge-quad-affine",
}


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
    (``_layers`` in the report, for ``layer_summary``)."""
    from transformers import GenerationConfig

    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import LocalProcesses
    from privformers.generation.report import single_report
    from privformers.mpc.launch import LOCAL_DEFAULT

    parties = LocalProcesses(timeout, insecure, server_gemm or LOCAL_DEFAULT, material_mb,
                             program="generate-layers" if layers else "generate")
    options = MpcOptions(reveal_logits=reveal_logits, use_cache=use_cache, frac_bits=frac_bits, progress=True)
    values = {} if config is None else {k: v for k, v in config.to_diff_dict().items() if k != "transformers_version"}
    values.update(max_new_tokens=new_tokens, eos_token_id=[])
    out = generate(model, prompt, GenerationConfig(**values), parties=parties, options=options)
    return single_report(out)


def _mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else 0.0


def layer_summary(parties: dict, full_layers: int) -> dict:
    """Per decode step (means over the steps after the first, which holds the prefill): the cost of one decoder
    layer and of the rest, online (client seconds and rounds, client and server bytes) and offline (the
    dealer's seconds, and the material all three send); the bytes each party holds per weight parameter; and,
    when the model has fewer layers than ``full_layers``, those figures extrapolated to the full model."""
    n = parties["client"]["layers"]
    on = {r: parties[r]["layer_costs"].get("online", [])[1:] for r in ("client", "server")}
    off = {r: parties[r]["layer_costs"].get("offline", [])[1:] for r in ("client", "server", "dealer")}
    steps = {r: parties[r]["per_token"][1:] for r in ("client", "server", "dealer")}
    inside = {"seconds": _mean([x["layers"] for x in on["client"]], "seconds"),
              "online_bytes": _mean([x["layers"] for x in on["client"]], "bytes")
              + _mean([x["layers"] for x in on["server"]], "bytes"),
              "rounds": _mean([x["layers"] for x in on["client"]], "rounds")}
    total = {"seconds": _mean(steps["client"], "seconds"),
             "online_bytes": _mean(steps["client"], "online_bytes") + _mean(steps["server"], "online_bytes"),
             "rounds": _mean(steps["client"], "rounds")}
    per_layer = {k: round(v / n, 6) for k, v in inside.items()}
    head = {k: round(total[k] - inside[k], 6) for k in inside}
    dealer_inside = _mean([x["layers"] for x in off["dealer"]], "seconds")
    material_inside = sum(_mean([x["layers"] for x in off[r]], "bytes") for r in off)
    offline = {"dealer_seconds_per_token": round(_mean(steps["dealer"], "seconds"), 6),
               "dealer_seconds_per_layer": round(dealer_inside / n, 6),
               "material_bytes_per_layer": round(material_inside / n),
               "client_offline_forward_seconds_per_token": round(_mean(off["client"], "forward_seconds"), 6)}
    params = parties["server"]["params"]
    held = {r: round(parties[r]["held_bytes"] / params, 3) for r in ("server", "client", "dealer")}
    out = {"decode_per_layer": per_layer, "decode_head": head, "offline_per_token": offline,
           "held_bytes_per_param": held, "params": params,
           "peak_rss_mb": {r: parties[r]["peak_rss_mb"] for r in ("server", "client", "dealer")}}
    if n < full_layers:
        extra = full_layers - n
        out["full_model_extrapolated"] = {
            "extrapolated": True, "layers": full_layers, "from_layers": n,
            "decode_seconds_per_token": round(total["seconds"] + extra * per_layer["seconds"], 3),
            "online_bytes_per_token": round(total["online_bytes"] + extra * per_layer["online_bytes"]),
            "rounds_per_token": round(total["rounds"] + extra * per_layer["rounds"]),
            "dealer_seconds_per_token": round(offline["dealer_seconds_per_token"]
                                              + extra * offline["dealer_seconds_per_layer"], 3),
            "method": "measured total + (full - measured layers) x measured per-layer cost"}
    return out
