"""``privformers bench generate``: cost of private greedy generation on a random-weight model, as JSON;
``privformers bench sweep``: the same over methods x sizes x prompt lengths (``privformers.generation.sweep``).

``bench generate`` runs the ``generate-layers`` program (``layer_costs.py``): besides the per-token costs it
reports a decode step's cost per decoder layer and for the rest (embedding, final norm, LM head, argmax), the
dealer's (offline) time, the bytes each party holds per weight parameter, and, for a model cut to fewer layers
than its named size (``--layers N``), the full model's figures extrapolated from those (marked ``extrapolated``)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Collection
from datetime import datetime, timezone
from pathlib import Path

from privformers.cli.argtypes import frac_bits, non_negative_float, positive_float, positive_int, strict_json
from privformers.cli.generate import add_sampling_options
from privformers.cli.options import add_server_gemm_options, server_gemm_from
from privformers.generation.bench import METHODS, bench_run, layer_summary, random_bench_model
from privformers.models.shapes import DECODER_ARCHS, DECODER_SIZES
from privformers.mpc.launch import local_gemm_threads
from privformers.mpc.party import SERVER


def register_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="per-token cost of private greedy generation (parties as processes)")
    p.add_argument("--arch", choices=("gpt2", *DECODER_ARCHS), default="gpt2",
                   help="gpt2, or a Llama-family decoder (llama, qwen2, mistral, gemma: each family's own config "
                        "class and model class at the named shape)")
    p.add_argument("--size", choices=("tiny", "small", "base", "7b", "8b"), default="tiny",
                   help="gpt2: tiny, small, base (124M). Llama family: tiny, base (the SmolLM-135M shape), 7b "
                        "(Llama-2-7B), 8b (Llama-3-8B)")
    p.add_argument("--random-weights", action="store_true", required=True,
                   help="seeded random weights of the named size (the only mode offline)")
    p.add_argument("--layers", type=positive_int,
                   help="keep only this many decoder layers; the JSON then also extrapolates the full model's "
                        "per-token figures from the measured per-layer and head costs (marked extrapolated)")
    p.add_argument("--config", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field of the named size (repeatable), e.g. --config n_embd=576 "
                        "--config n_head=9 for a GPT-2 layer as wide as the base Llama shape")
    p.add_argument("--limb-cache-mb", type=non_negative_float, default=None,
                   help="each party process keeps masked weights split into limbs up to this many MB (faster "
                        "products) and the rest lean (client: 8 B per parameter; dealer: regenerated from a seed); "
                        "default 8192. Give 0 for a large model on a small machine")
    p.add_argument("--weights-dir", default=None, metavar="DIR",
                   help="party processes keep large weight matrices (the server's float64 W, a lean client's F: "
                        "8 B per parameter each) in memory-mapped files here, unlinked at once: the page cache "
                        "holds them, and memory pressure pages them out instead of ending a party")
    p.add_argument("--method", choices=tuple(METHODS), default="vanilla",
                   help="vanilla (exact), or the model converted by an approximation recipe: mpcformer "
                        "(Quad GeLU + 2Quad softmax), thex, merge-er (Embedding Resending), merge-mm (Merge Module), "
                        "merge (both), merge-quad-affine (both, with Quad GeLU and affine norms: MERGE's run script)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt-len", type=positive_int, default=32)
    p.add_argument("--new-tokens", type=positive_int, default=4)
    p.add_argument("--reveal-logits", action="store_true")
    add_sampling_options(p)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--check", action="store_true", help="also decode in plaintext and compare tokens")
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--timeout", type=positive_float, default=3600.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--insecure-transport", action="store_true",
                   help="plain TCP links instead of TLS 1.3 (to measure what TLS costs)")
    p.add_argument("--compare-transport", action="store_true",
                   help="run with TLS and with plain TCP in this one command (alternating, --repeats pairs) and "
                        "report the per-token time of each and what TLS adds")
    p.add_argument("--repeats", type=positive_int, default=1, help="pairs of runs for --compare-transport")
    _material_option(p)
    add_server_gemm_options(p)
    p.set_defaults(func=_run_generate)

    p = sub.add_parser("batch", help="a padded batch of prompts of different lengths against each prompt alone: "
                                     "per-prompt decode rounds, bytes and seconds (parties as processes)")
    p.add_argument("--model", default=None, help="a save_pretrained folder with its tokenizer (default: the built-in "
                                                 "E2E model)")
    p.add_argument("--prompts", type=positive_int, default=8, help="how many prompts (of the built-in E2E-style "
                                                                     "ones: at most 8)")
    p.add_argument("--prompts-file", type=Path, default=None, metavar="FILE",
                   help="take the prompts from this file instead, one per line (the first --prompts lines)")
    p.add_argument("--new-tokens", type=positive_int, default=4)
    p.add_argument("--timeout", type=positive_float, default=3600.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run_batch)

    p = sub.add_parser("sweep", help="bench generate over methods x model sizes x prompt lengths: JSON table and "
                                     "plots (MERGE's Figure 4)")
    p.add_argument("--random-weights", action="store_true",
                   help="seeded random weights of the named sizes (the only mode offline; required unless --combine)")
    p.add_argument("--combine", nargs="+", metavar="SWEEP_JSON",
                   help="run nothing: merge the sweep.json files of earlier runs with the same settings (e.g. "
                        "base at short prompts, small at all) into one table and its plots (with --out)")
    p.add_argument("--methods", type=_names(METHODS), default=["vanilla", "merge"],
                   help=f"comma-separated, of {','.join(METHODS)} (default vanilla,merge)")
    p.add_argument("--sizes", type=_names(("tiny", "small", "base")), default=["tiny"],
                   help="comma-separated, of tiny,small,base (default tiny)")
    p.add_argument("--prompt-lens", type=_ints, default=[64, 128, 256, 512],
                   help="comma-separated prompt lengths (default 64,128,256,512; those beyond a model's context "
                        "are skipped)")
    p.add_argument("--new-tokens", type=positive_int, default=2,
                   help="tokens generated per point (the first has the prefill)")
    p.add_argument("--layers", type=positive_int, help="override every size's number of layers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds per point")
    p.add_argument("--out", help="folder for sweep.json, sweep_vs_prompt_len.png and sweep_vs_size.png")
    p.add_argument("--json", action="store_true", help="print compact JSON (indented otherwise)")
    p.add_argument("--insecure-transport", action="store_true", help="plain TCP links instead of TLS 1.3")
    _material_option(p)
    p.set_defaults(func=_run_sweep)


def _material_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--material-budget-mb", type=positive_float, default=None,
                   help="stream the correlated material: each party makes it in a second thread at most this many "
                        "MB ahead of the online pass (bounded memory for long prompts on large models; the online "
                        "time then includes waiting for material). Default: all material is made first")


def _names(allowed: Collection[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names, each one of allowed."""
    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"expected names from {','.join(allowed)}, got {text!r}")
        return names
    return parse


def _key_value(text: str) -> tuple[str, object]:
    """An argparse type: KEY=VALUE, the value read as JSON when it parses (numbers, true/false), else a string."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _ints(text: str) -> list[int]:
    """An argparse type: a comma-separated list of positive integers."""
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return values


def _run_batch(a: argparse.Namespace) -> int:

    from privformers.generation.bench_batch import MRS, run_batch_bench

    prompts = list(MRS)
    if a.prompts_file is not None:
        try:
            prompts = [line.strip() for line in a.prompts_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: --prompts-file: cannot read {a.prompts_file} ({type(exc).__name__})", file=sys.stderr)
            return 2
    if a.prompts > len(prompts):
        print(f"error: --prompts: only {len(prompts)} prompts available", file=sys.stderr)
        return 2
    if a.model is None:
        from privformers.lm import builtin_model_path

        a.model = str(builtin_model_path())
    try:
        result = run_batch_bench(a.model, prompts[:a.prompts], a.new_tokens, a.timeout)
    except (RuntimeError, ValueError) as exc:
        print(f"bench batch: {exc}", file=sys.stderr)
        return 1
    print(strict_json(result) if a.json else strict_json(result, indent=2))
    return 0


def _run_sweep(a: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from privformers.generation.sweep import combine_sweeps, plot_sweep, run_sweep

    if a.combine:
        try:
            result = combine_sweeps([json.loads(Path(f).read_text()) for f in a.combine])
        except (OSError, ValueError, KeyError) as exc:   # json.JSONDecodeError is a ValueError
            print(f"error: cannot combine {' '.join(a.combine)}: {exc}", file=sys.stderr)
            return 2
    elif not a.random_weights:
        print("error: bench sweep needs --random-weights (or --combine)", file=sys.stderr)
        return 2
    else:
        result = run_sweep(a.sizes, a.methods, a.prompt_lens, a.new_tokens, layers=a.layers, seed=a.seed,
                           timeout=a.timeout, frac_bits=a.frac_bits, insecure=a.insecure_transport,
                           material_mb=a.material_budget_mb)
    text = strict_json(result) if a.json else strict_json(result, indent=2)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "sweep.json").write_text(strict_json(result, indent=2) + "\n")
        print(f"[sweep] wrote {out / 'sweep.json'}", file=sys.stderr)
        try:
            figures = plot_sweep(result, out)
        except ImportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for path in figures:
            print(f"[sweep] wrote {path}", file=sys.stderr)
    print(text)
    if not result["points"]:
        print("error: every point was skipped", file=sys.stderr)
        return 1
    return 0


def _layer_overrides(arch: str, layers: int | None) -> dict:
    if not layers:
        return {}
    return {"n_layer": layers} if arch == "gpt2" else {"num_hidden_layers": layers}


def _full_layers(arch: str, size: str) -> int:
    """The named size's own number of decoder layers."""
    from privformers.models.shapes import SIZES

    return SIZES[size]["n_layer"] if arch == "gpt2" else DECODER_SIZES[size]["num_hidden_layers"]


def _run_generate(a: argparse.Namespace) -> int:
    from privformers.cli.generate import _print, generation_config
    from privformers.models.spec import PromptTooLongError

    try:
        overrides = {**dict(a.config), **_layer_overrides(a.arch, a.layers)}
        model, prompt = random_bench_model(a.size, a.seed, METHODS[a.method], overrides, a.prompt_len, a.new_tokens,
                                           a.arch)
        a.server_gemm = server_gemm_from(a)
        a.max_new_tokens = a.new_tokens
        config = generation_config(a)
        if a.check and a.do_sample:
            raise ValueError("--check compares with plaintext greedy decoding; it cannot check sampled tokens")
        if a.weights_dir is not None and not os.path.isdir(a.weights_dir):
            raise ValueError(f"--weights-dir {a.weights_dir!r} is not a folder")
    except (PromptTooLongError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if a.limb_cache_mb is not None:
        from privformers.mpc.ringmath import LIMB_CACHE_ENV

        os.environ[LIMB_CACHE_ENV] = str(a.limb_cache_mb)   # the party processes inherit it
    if a.weights_dir is not None:
        from privformers.mpc.ringmath import WEIGHTS_DIR_ENV

        os.environ[WEIGHTS_DIR_ENV] = a.weights_dir
    spec = model.spec()
    run = lambda insecure, layers=False: bench_run(  # noqa: E731
        model, prompt, a.new_tokens, reveal_logits=a.reveal_logits, use_cache=not a.no_cache, timeout=a.timeout,
        frac_bits=a.frac_bits, insecure=insecure, server_gemm=a.server_gemm, material_mb=a.material_budget_mb,
        config=config, layers=layers)
    if a.compare_transport:
        return _compare_transport(a, run, spec)
    try:
        out = run(a.insecure_transport, True)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    layers = out.pop("_layers", None)
    decode = out["per_token"][1:]
    if decode:  # the first token includes the prefill; later ones are single decode steps
        out["decode_mean"] = {k: round(sum(r[k] for r in decode) / len(decode), 6)
                              for k in ("seconds", "online_bytes", "rounds")}
        steps = out.get("per_token_breakdown", [])[1:]
        if steps:  # the decode step's cost per op class (the breakdown above also holds the prefill)
            out["decode_breakdown"] = {c: {k: round(sum(st[c][k] for st in steps) / len(steps), 6)
                                           for k in ("seconds", "online_bytes", "rounds")} for c in steps[0]}
        if layers is not None:
            out.update(layer_summary(layers, _full_layers(a.arch, a.size)))
    if a.check:
        from privformers.models.plain import plain_greedy

        plain = spec.factory()
        plain.load_state_dict(spec.weights())
        out["plaintext_tokens"] = plain_greedy(plain, prompt, a.new_tokens)[0]
    out["meta"] = _meta(a, spec, "tcp (insecure)" if a.insecure_transport else "tls1.3")
    return _print(out, a.json)


def _meta(a: argparse.Namespace, spec: object, transport: str) -> dict:
    recipe = getattr(spec, "recipe", None)
    layers = getattr(spec.config, "n_layer", None) or spec.config.num_hidden_layers
    return {"arch": a.arch, "size": a.size, "layers": layers, "config_overrides": dict(a.config), "method": a.method,
            "recipe": None if recipe is None else recipe.to_dict(),
            "prompt_len": a.prompt_len, "new_tokens": a.new_tokens,
            "kv_cache": not a.no_cache, "reveal_logits": a.reveal_logits, "parties": "processes",
            "sampling": {"temperature": a.temperature, "top_k": a.top_k, "top_p": a.top_p} if a.do_sample else None,
            "transport": transport, "server_gemm": {"device": a.server_gemm.device,
                                                   "threads": a.server_gemm.threads or local_gemm_threads(SERVER)},
            "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _decode_seconds(out: dict) -> float:
    """Mean wall time of the decode steps (the first step, with the prefill, left out when there are others)."""
    rows = out["per_token"][1:] or out["per_token"]
    return sum(r["seconds"] for r in rows) / len(rows)


def _compare_transport(a: argparse.Namespace, run: Callable[[bool], dict], spec: object) -> int:
    """TLS and plain TCP runs in the order T P P T T P ... (drift cancels); per-token times and the TLS extra.
    run(insecure): one measured run."""

    if a.insecure_transport:
        print("error: --compare-transport runs both transports; leave out --insecure-transport", file=sys.stderr)
        return 2
    order = [m for i in range(max(1, a.repeats)) for m in (("tls", "tcp") if i % 2 == 0 else ("tcp", "tls"))]
    runs: dict[str, list[dict]] = {"tls": [], "tcp": []}
    tokens = None
    for mode in order:
        out = run(mode == "tcp")
        if tokens is not None and out["tokens"] != tokens:
            print("error: the two transports produced different tokens", file=sys.stderr)
            return 3
        tokens = out["tokens"]
        runs[mode].append({"decode_seconds_per_token": round(_decode_seconds(out), 6),
                           "first_token_seconds": out["per_token"][0]["seconds"],
                           "cpu_seconds": out.get("cpu_seconds")})
    mean = {m: sum(r["decode_seconds_per_token"] for r in rs) / len(rs) for m, rs in runs.items()}
    result = {"tokens": tokens, "tls": runs["tls"], "insecure": runs["tcp"],
              "decode_seconds_per_token": {"tls": round(mean["tls"], 6), "insecure": round(mean["tcp"], 6)},
              "tls_extra": round(mean["tls"] / mean["tcp"] - 1, 4), "meta": _meta(a, spec, "tls1.3 vs tcp")}
    print(strict_json(result) if a.json else strict_json(result, indent=2))
    return 0
