"""CLI: ``privformers generate`` (private greedy generation: three local party processes, or the
client of a ``serve`` server and ``dealer`` service) and ``privformers serve``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from privformers.mpc.launch import LOCAL_DEFAULT, ServerGemm, add_server_gemm_options, server_gemm_from
from privformers.mpc.transport.options import add_max_message_option, add_tls_options, max_message_from, tls_from_args
from privformers.mpc.transport.options import parse_addr as _addr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="greedy text generation under MPC (client prompt, server weights)",
                       description="Generate text privately: the client's prompt and the tokens stay secret from "
                       "the server, the weights from the client. Parties run as three local processes over TCP. "
                       "Each token is chosen by a secure argmax and revealed to the client only.")
    p.add_argument("--model", default=None,
                   help="a local folder written by save_pretrained (with tokenizer); default: the built-in "
                        "E2E model (prompts like 'name[The Eagle], food[French] =')")
    p.add_argument("--prompt", help="prompt text (tokenized with the model folder's tokenizer)")
    p.add_argument("--prompt-ids", help="comma-separated token ids instead of --prompt")
    p.add_argument("--max-new-tokens", type=int, default=8)
    p.add_argument("--reveal-logits", action="store_true",
                   help="reveal each step's full logits to the client, who takes the argmax: faster, but the "
                   "client learns the model's whole next-token distribution at every step")
    p.add_argument("--no-cache", action="store_true", help="rerun the whole sequence each step (no KV cache)")
    p.add_argument("--check", action="store_true", help="also run plaintext greedy decoding and compare")
    p.add_argument("--frac-bits", type=int, default=16)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--material-budget-mb", type=float, default=None,
                   help="local parties: stream the correlated material at most this many MB ahead of the online "
                        "pass (bounded memory for a long prompt on a large model; the online time then includes "
                        "waiting for material). Default: all material is made first")
    add_server_gemm_options(p)
    g = p.add_argument_group("client of a server (privformers serve) and a dealer (privformers dealer)")
    g.add_argument("--server", type=_addr, metavar="HOST:PORT",
                   help="run only the client, with this server; --model is then only where the tokenizer is")
    g.add_argument("--dealer", type=_addr, metavar="HOST:PORT", help="the dealer service (with --server)")
    g.add_argument("--connect-timeout", type=float, default=30.0)
    add_tls_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("serve", help="serve private generation: keep a model loaded, serve many client sessions",
                       description="Listen for clients (`privformers generate --server`). Each session gets "
                       "fresh correlated randomness from the dealer service (`privformers dealer`). The weights "
                       "stay on this server; prompts and tokens stay with the clients.")
    p.add_argument("--model", required=True, help="a local folder written by save_pretrained")
    p.add_argument("--listen", type=_addr, required=True, metavar="HOST:PORT")
    p.add_argument("--dealer", type=_addr, required=True, metavar="HOST:PORT")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any message from a peer")
    p.add_argument("--max-sessions", type=int, default=4, help="sessions served at once; more are refused")
    p.add_argument("--max-new-tokens", type=int, default=256, help="the most tokens one session may ask for")
    p.add_argument("--gemm-threads", type=int, default=1,
                   help="torch threads for a session's large products with the weights (the client waits for "
                        "them; give this machine's cores when sessions are few)")
    p.add_argument("--gemm-device", default="cpu", metavar="DEVICE",
                   help="cpu, cuda or cuda:N: where those products run (exact on either; an unavailable "
                        "device is an error at start, never a fallback to the CPU)")
    add_max_message_option(p)
    add_tls_options(p)
    p.set_defaults(func=cmd_serve)


def _prompt_ids(a: argparse.Namespace, tokenizer: object | None) -> list[int]:
    if a.prompt_ids:
        return [int(t) for t in a.prompt_ids.split(",") if t.strip()]
    if a.prompt is None:
        raise ValueError("give --prompt TEXT or --prompt-ids IDS")
    if tokenizer is None:
        raise ValueError(f"no tokenizer in {a.model!r}: save one there or pass --prompt-ids")
    return list(tokenizer(a.prompt)["input_ids"])


def _tokenizer(path: str) -> object | None:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError):
        return None


def launch_generate(args: dict, timeout: float, frac_bits: int, insecure: bool = False,
                    server_gemm: ServerGemm = LOCAL_DEFAULT) -> dict[str, dict]:
    """Run the ``generate`` program in three local processes, streaming the client's progress.

    The links are TLS with fresh ephemeral certificates unless insecure (plain TCP, with a warning).
    server_gemm: the server's threads and device for its plaintext-weight products."""
    from privformers.mpc.launch import launch_local

    return launch_local("generate", args, timeout, frac_bits, insecure, follow="[client]",
                        connect_timeout=min(60.0, timeout), server_gemm=server_gemm)


def run_generate(args: dict, timeout: float, frac_bits: int, insecure: bool = False,
                 server_gemm: ServerGemm = LOCAL_DEFAULT) -> dict:
    """Launch the parties and summarize: tokens, per_token, totals, breakdown."""
    from privformers.generation.report import summarize

    reports = launch_generate(args, timeout, frac_bits, insecure, server_gemm)
    c, s = reports["client"], reports["server"]
    out = summarize(c["result"], s["result"], c["meter"], s["meter"])
    # CPU seconds of each party from connecting to the end (all phases): less load-sensitive than wall time
    out["cpu_seconds"] = {role: r.get("cpu_seconds") for role, r in reports.items()}
    # the dealer's material for the whole run (prefill and every step), as sent by all three parties
    out["offline_bytes"] = sum(r["meter"]["offline_bytes"] for r in reports.values() if r.get("meter"))
    return out


def cmd_generate(a: argparse.Namespace) -> int:
    from privformers.generation.models import check_length, check_weights, from_path
    from privformers.mpc.launch import LaunchError

    if a.model is None:
        from privformers.lm import builtin_model_path

        a.model = str(builtin_model_path())
    if a.server or a.dealer:
        return _client(a)
    if a.cert or a.key or a.ca:
        print("error: --cert/--key/--ca are for the client of a server (--server, --dealer); the local launcher "
              "makes its own ephemeral certificates", file=sys.stderr)
        return 2
    try:
        spec = from_path(a.model)
        check_weights(a.model)  # the local server process loads them
        tokenizer = _tokenizer(a.model)
        prompt = _prompt_ids(a, tokenizer)
        check_length(spec, len(prompt), a.max_new_tokens)
        if a.max_new_tokens < 1 or not prompt:
            raise ValueError("need a non-empty prompt and --max-new-tokens >= 1")
        if a.material_budget_mb is not None and not a.material_budget_mb > 0:
            raise ValueError(f"--material-budget-mb must be positive, got {a.material_budget_mb}")
        server_gemm = server_gemm_from(a)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = {"model": str(Path(a.model).resolve()), "prompt": prompt, "max_new_tokens": a.max_new_tokens,
            "reveal_logits": a.reveal_logits, "use_cache": not a.no_cache, "progress": True}
    if a.material_budget_mb is not None:
        args["material_mb"] = a.material_budget_mb
    try:
        out = run_generate(args, a.timeout, a.frac_bits, a.insecure_transport, server_gemm)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return 1
    return _finish(a, out, tokenizer, prompt)


def _finish(a: argparse.Namespace, out: dict, tokenizer: object | None, prompt: list[int]) -> int:
    """Decode, optionally compare with plaintext greedy decoding of the local --model, print."""
    from privformers.generation.models import from_path

    decode = (lambda ids: tokenizer.decode(ids)) if tokenizer is not None else (lambda ids: " ".join(map(str, ids)))
    out = {"text": decode(out["tokens"]), **out}
    if a.check:
        from privformers.generation.plain import plain_greedy

        spec = from_path(a.model)
        model = spec.factory()
        model.load_state_dict(spec.weights())
        out["plaintext_tokens"] = plain_greedy(model, prompt, a.max_new_tokens)[0]
    return _print(out, a.json)


def _client(a: argparse.Namespace) -> int:
    """Only the client: the server and the dealer are services elsewhere."""
    from privformers.generation.serve import remote_generate
    from privformers.mpc.transport.base import TransportError

    if not (a.server and a.dealer):
        print("error: give both --server HOST:PORT and --dealer HOST:PORT", file=sys.stderr)
        return 2
    if a.material_budget_mb is not None:
        print("error: --material-budget-mb is for local parties; a served session's material is the dealer "
              "service's and the server's to schedule", file=sys.stderr)
        return 2
    if a.server_gemm_device != "cpu" or a.server_gemm_threads is not None:
        print("error: --server-gemm-device/--server-gemm-threads are for local parties; a served model's "
              "products run where `privformers serve --gemm-device/--gemm-threads` put them", file=sys.stderr)
        return 2
    try:
        tls = tls_from_args(a, "client")
        tokenizer = _tokenizer(a.model)
        prompt = _prompt_ids(a, tokenizer)
        if a.max_new_tokens < 1 or not prompt:
            raise ValueError("need a non-empty prompt and --max-new-tokens >= 1")
    except (ValueError, TransportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        out = remote_generate(a.server, a.dealer, tls, prompt, a.max_new_tokens, a.reveal_logits, not a.no_cache,
                              frac_bits=a.frac_bits, io_timeout=a.timeout, connect_timeout=a.connect_timeout,
                              progress=True)
    except (TransportError, ValueError) as exc:
        print(f"client failed: {exc}", file=sys.stderr)
        return 1
    return _finish(a, out, tokenizer, prompt)


def cmd_serve(a: argparse.Namespace) -> int:
    import torch

    from privformers.generation.models import ModelNotFoundError
    from privformers.generation.serve import GenerationServer
    from privformers.mpc.transport.base import TransportError

    torch.set_num_threads(1)
    try:
        tls = tls_from_args(a, "server")
        server = GenerationServer(a.model, a.listen, a.dealer, tls, a.timeout, a.max_sessions, a.max_new_tokens,
                                  gemm_threads=a.gemm_threads, gemm_device=a.gemm_device,
                                  max_message=max_message_from(a))
    except (ModelNotFoundError, TransportError, ValueError) as exc:
        print(f"serve failed: {exc}", file=sys.stderr)
        return 1
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("server stopped", file=sys.stderr)
    return 0


def _print(out: dict, as_json: bool) -> int:
    match = out.get("plaintext_tokens") in (None, out["tokens"])
    if as_json:
        print(json.dumps(out))
        return 0 if match else 3
    print(out["text"])
    t, n = out["totals"], len(out["tokens"])
    print(f"{n} tokens: {t['seconds']:.2f} s, {t['online_bytes']} B online (client+server), {t['rounds']} rounds; "
          f"first token (with prefill) {out['per_token'][0]['seconds']:.2f} s", file=sys.stderr)
    for k, v in out["breakdown"].items():
        if v["online_bytes"] or v["rounds"]:
            print(f"  {k:10s} {v['seconds']:8.3f} s {v['online_bytes']:>12d} B {v['rounds']:>6d} rounds",
                  file=sys.stderr)
    if "plaintext_tokens" in out:
        print(f"plaintext check: {'match' if match else 'MISMATCH'} {out['plaintext_tokens']}", file=sys.stderr)
    return 0 if match else 3
