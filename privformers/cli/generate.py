"""CLI: ``privformers generate`` (private greedy generation: three local party processes, or the
client of a ``serve`` server and ``dealer`` service) and ``privformers serve``."""

from __future__ import annotations

import argparse
import sys

from privformers.cli.argtypes import (
    check_vocab,
    frac_bits,
    non_negative_int,
    positive_float,
    positive_int,
    secret_text,
    strict_json,
    token_ids,
)
from privformers.cli.options import (
    add_max_message_option,
    add_server_gemm_options,
    add_tls_options,
    max_message_from,
    server_gemm_from,
    tls_from_args,
)
from privformers.cli.options import parse_addr as _addr


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="text generation under MPC (client prompt, server weights)",
                       description="Generate text privately: the client's prompt and the tokens stay secret from "
                       "the server, the weights from the client. Parties run as three local processes over TLS "
                       "(or this process is the client of a server and a dealer). Each token is chosen by a secure "
                       "argmax, or sampled (--do-sample) with randomness neither computing party knows, and "
                       "revealed to the client only.")
    p.add_argument("--model", default=None,
                   help="a local folder written by save_pretrained (with tokenizer); default: the built-in "
                        "E2E model (prompts like 'name[The Eagle], food[French] =')")
    p.add_argument("--prompt", type=secret_text, help="prompt text (tokenized with the model folder's tokenizer)")
    p.add_argument("--prompt-ids", type=token_ids, help="comma-separated token ids instead of --prompt")
    p.add_argument("--max-new-tokens", type=positive_int, default=8)
    add_sampling_options(p)
    p.add_argument("--stop-early", action="store_true",
                   help="end the session once the model's end-of-text token is generated; the server then learns "
                        "how many tokens were generated (by default every step runs and the client cuts the text)")
    p.add_argument("--reveal-logits", action="store_true",
                   help="reveal each step's full logits to the client, who takes the argmax: faster, but the "
                   "client learns the model's whole next-token distribution at every step")
    p.add_argument("--no-cache", action="store_true", help="rerun the whole sequence each step (no KV cache)")
    p.add_argument("--check", action="store_true", help="also run plaintext greedy decoding and compare")
    p.add_argument("--frac-bits", type=frac_bits, default=16)
    p.add_argument("--timeout", type=positive_float, default=600.0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--material-budget-mb", type=positive_float, default=None,
                   help="local parties: stream the correlated material at most this many MB ahead of the online "
                        "pass (bounded memory for a long prompt on a large model; the online time then includes "
                        "waiting for material). Default: all material is made first")
    add_server_gemm_options(p)
    g = p.add_argument_group("client of a server (privformers serve) and a dealer (privformers dealer)")
    g.add_argument("--server", type=_addr, metavar="HOST:PORT",
                   help="run only the client, with this server; --model is then only where the tokenizer is")
    g.add_argument("--dealer", type=_addr, metavar="HOST:PORT", help="the dealer service (with --server)")
    g.add_argument("--connect-timeout", type=positive_float, default=30.0)
    add_tls_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("serve", help="serve private generation: keep a model loaded, serve many client sessions",
                       description="Listen for clients (`privformers generate --server`). Each session gets "
                       "fresh correlated randomness from the dealer service (`privformers dealer`). The weights "
                       "stay on this server; prompts and tokens stay with the clients.")
    p.add_argument("--model", required=True, help="a local folder written by save_pretrained")
    p.add_argument("--listen", type=_addr, required=True, metavar="HOST:PORT")
    p.add_argument("--dealer", type=_addr, required=True, metavar="HOST:PORT")
    p.add_argument("--timeout", type=positive_float, default=120.0,
                   help="seconds to wait for any message from a peer")
    p.add_argument("--max-sessions", type=positive_int, default=4, help="sessions served at once; more are refused")
    p.add_argument("--max-new-tokens", type=positive_int, default=256,
                   help="the most tokens one session may ask for")
    p.add_argument("--max-prompts", type=positive_int, default=8,
                   help="the most prompts one session may batch (each pass's rounds are shared by its prompts)")
    p.add_argument("--gemm-threads", type=positive_int, default=1,
                   help="torch threads for a session's large products with the weights (the client waits for "
                        "them; give this machine's cores when sessions are few)")
    p.add_argument("--gemm-device", default="cpu", metavar="DEVICE",
                   help="cpu, cuda or cuda:N: where those products run (exact on either; an unavailable "
                        "device is an error at start, never a fallback to the CPU)")
    add_max_message_option(p)
    add_tls_options(p)
    p.set_defaults(func=cmd_serve)


def add_sampling_options(p: argparse.ArgumentParser) -> None:
    """--do-sample, --temperature, --top-k and --top-p (as transformers' GenerationConfig)."""
    p.add_argument("--do-sample", action="store_true",
                   help="sample each token (temperature, then top-k, then top-p, as transformers does) instead of "
                        "the secure argmax; the dealer's randomness picks it, unknown to client and server")
    p.add_argument("--temperature", type=positive_float, default=None, help="with --do-sample (default 1.0)")
    p.add_argument("--top-k", type=non_negative_int, default=None,
                   help="with --do-sample: keep the k most likely tokens (default 50; 0: all)")
    p.add_argument("--top-p", type=unit_interval_top_p, default=None,
                   help="with --do-sample: keep the smallest set of most likely tokens with this much probability "
                        "(default 1.0: all)")


def unit_interval_top_p(text: str) -> float:
    """top_p in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def generation_config(a: argparse.Namespace) -> object:
    """The GenerationConfig that the options ask for (ValueError: a sampling option without --do-sample)."""
    from transformers import GenerationConfig

    given = {k: getattr(a, k) for k in ("temperature", "top_k", "top_p") if getattr(a, k) is not None}
    if given and not a.do_sample:
        raise ValueError(f"--{'/--'.join(k.replace('_', '-') for k in given)} need --do-sample")
    return GenerationConfig(max_new_tokens=a.max_new_tokens, do_sample=a.do_sample or None, **given)


def _prompt_ids(a: argparse.Namespace, tokenizer: object | None, vocab_size: int | None = None) -> list[int]:
    """The prompt's token ids (--prompt-ids, parsed by its type, or --prompt tokenized); ValueError when there
    is none or both, or an id is not in the model's vocabulary. Messages never repeat the prompt."""
    if a.prompt_ids is not None and a.prompt is not None:
        raise ValueError("give --prompt TEXT or --prompt-ids IDS, not both")
    if a.prompt_ids is not None:
        ids = list(a.prompt_ids)
    elif a.prompt is None:
        raise ValueError("give --prompt TEXT or --prompt-ids IDS")
    elif tokenizer is None:
        raise ValueError(f"no tokenizer in {a.model!r}: save one there or pass --prompt-ids")
    else:
        ids = list(tokenizer(a.prompt)["input_ids"])
    if vocab_size is not None:
        check_vocab(ids, vocab_size, "--prompt-ids" if a.prompt_ids is not None else "--prompt (tokenized)")
    return ids


def _vocab_size(model: str) -> int | None:
    """The vocabulary size of the model folder's config, where it has one (a client's folder may hold only
    the tokenizer)."""
    from privformers.models.load import from_path

    try:
        return int(from_path(model).config.vocab_size)
    except (ValueError, OSError, TypeError):
        return None


def _tokenizer(path: str) -> object | None:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError):
        return None


def cmd_generate(a: argparse.Namespace) -> int:
    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import LocalProcesses
    from privformers.generation.report import single_report
    from privformers.models.load import check_weights, from_path

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
        if a.check and a.do_sample:
            raise ValueError("--check compares with plaintext greedy decoding; it cannot check sampled tokens")
        spec = from_path(a.model)   # a clear error when it is not a model folder
        check_weights(a.model)      # the local server process loads them
        tokenizer = _tokenizer(a.model)
        mapping = _delexicalise(a)
        prompt = _prompt_ids(a, tokenizer, spec.config.vocab_size)
        parties = LocalProcesses(a.timeout, a.insecure_transport, server_gemm_from(a), a.material_budget_mb)
        options = MpcOptions(reveal_logits=a.reveal_logits, stop_early=a.stop_early, use_cache=not a.no_cache,
                             frac_bits=a.frac_bits, progress=True)
        config = generation_config(a)
        out = generate(a.model, prompt, config, parties=parties, tokenizer=tokenizer, options=options,
                       suppress=_suppressed(a, tokenizer, mapping))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:   # a party failed (the launcher's message names which and why)
        print(exc, file=sys.stderr)
        return 1
    return _finish(a, single_report(out), tokenizer, prompt, mapping)


def _delexicalise(a: argparse.Namespace) -> dict[str, str]:
    """The client's side of a delexicalised model (``privformers_delex.json`` in --model): --prompt gets
    placeholders for the values, which stay in this process (returned, for ``_finish``)."""
    from privformers.lm.delex import client_prompts

    if a.prompt is None:
        return {}
    a.prompt, mappings = client_prompts(a.model, a.prompt)
    return mappings[0] if mappings else {}


def _suppressed(a: argparse.Namespace, tokenizer: object | None, mapping: dict[str, str]) -> list[list[int]] | None:
    """A delexicalised model's text prompt: the placeholders of the slots it lacks, never to be chosen."""
    from privformers.lm.delex import absent_placeholder_ids

    return None if a.prompt is None else absent_placeholder_ids(a.model, tokenizer, [mapping])


def _finish(a: argparse.Namespace, out: dict, tokenizer: object | None, prompt: list[int],
            mapping: dict[str, str] | None = None) -> int:
    """Decode (the values of a delexicalised prompt put back), optionally compare with plaintext greedy
    decoding of the local --model, print."""
    from privformers.lm.delex import relexicalise
    from privformers.models.load import from_path

    decode = (lambda ids: tokenizer.decode(ids)) if tokenizer is not None else (lambda ids: " ".join(map(str, ids)))
    out = {"text": decode(out["tokens"]), **out}
    out["text"] = relexicalise(out["text"], mapping or {})
    if a.check:
        from privformers.generation.config import cut
        from privformers.models.plain import plain_greedy

        spec = from_path(a.model)
        model = spec.factory()
        model.load_state_dict(spec.weights())
        eos = getattr(model.generation_config, "eos_token_id", None)
        stop = () if eos is None else tuple([eos] if isinstance(eos, int) else eos)
        banned = _suppressed(a, tokenizer, mapping or {})
        out["plaintext_tokens"] = cut(plain_greedy(model, prompt, a.max_new_tokens, suppress=banned[0] if banned
                                                   else ())[0], stop)
    return _print(out, a.json)


def _client(a: argparse.Namespace) -> int:
    """Only the client: the server and the dealer are services elsewhere."""
    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import RemoteServer
    from privformers.generation.report import single_report
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
        if a.check and a.do_sample:
            raise ValueError("--check compares with plaintext greedy decoding; it cannot check sampled tokens")
        tls = tls_from_args(a, "client")
        tokenizer = _tokenizer(a.model)
        mapping = _delexicalise(a)
        prompt = _prompt_ids(a, tokenizer, _vocab_size(a.model))
        config = generation_config(a)
        options = MpcOptions(reveal_logits=a.reveal_logits, stop_early=a.stop_early, use_cache=not a.no_cache,
                             frac_bits=a.frac_bits, progress=True)
    except (ValueError, TransportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        parties = RemoteServer(a.server, a.dealer, tls, a.connect_timeout, a.timeout)
        out = generate(a.model, prompt, config, parties=parties, tokenizer=tokenizer, options=options,
                       suppress=_suppressed(a, tokenizer, mapping))
    except (TransportError, ValueError) as exc:
        print(f"client failed: {exc}", file=sys.stderr)
        return 1
    return _finish(a, single_report(out), tokenizer, prompt, mapping)


def cmd_serve(a: argparse.Namespace) -> int:
    import torch

    from privformers.generation.serve import GenerationServer
    from privformers.models.load import ModelNotFoundError
    from privformers.mpc.transport.base import TransportError

    torch.set_num_threads(1)
    try:
        tls = tls_from_args(a, "server")
        server = GenerationServer(a.model, a.listen, a.dealer, tls, a.timeout, a.max_sessions, a.max_new_tokens,
                                  gemm_threads=a.gemm_threads, gemm_device=a.gemm_device, max_rows=a.max_prompts,
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
        print(strict_json(out))
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
