"""Private generation from Python: ``generate(model, prompts, generation_config, parties=...)``.

One call for every way of running the parties (``parties.py``): threads of this process, three
local processes, or a remote server and dealer. It takes text or token ids, one prompt or many,
a ``transformers.GenerationConfig`` (``config.py`` says which fields work), and an optional
streamer (``transformers.TextStreamer`` or anything with ``put`` and ``end``) that receives each
token as soon as the client learns it. It returns texts, token ids and the cost report.

What is public (the server and the dealer learn it): the model's architecture, the number of
prompts and how they are grouped into passes, each pass's width (the longest prompt of a padded
pass; each prompt's own length when ``lengths_public``), the number of new tokens, how tokens
are chosen (argmax, sampling with its temperature, top-k and top-p; or logits revealed to the
client), and, with ``stop_early``, how many tokens were generated. Prompts, tokens and stop tokens
stay with the client; the weights with the server. A model trained delexicalised (its folder holds
``privformers_delex.json``, ``privformers.lm.delex``) gets placeholders for some slot values of a text
prompt; the client keeps the values and puts them back into ``texts`` (a streamer sees the placeholders).

Example (the built-in model, the parties as threads of this process)::

    from transformers import GenerationConfig
    from privformers.generation import InProcess, generate
    from privformers.lm import builtin_model_path

    out = generate(builtin_model_path(), "name[The Eagle], food[French], area[riverside] =",
                   GenerationConfig(max_new_tokens=4), parties=InProcess())
    print(out.texts[0], out.cost["totals"])
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import GenerationConfig

from privformers.generation.config import Decoding, cut, decoding_of, merged, model_generation_config
from privformers.generation.padding import check_paddable
from privformers.generation.parties import InProcess, LocalProcesses, Parties, RemoteServer
from privformers.generation.plan import Plan, plan_passes
from privformers.generation.report import plan_report
from privformers.lm.delex import absent_placeholder_ids, client_prompts, relexicalise
from privformers.models.load import from_args, from_path
from privformers.models.spec import ModelSpec, check_length, public_spec

if TYPE_CHECKING:
    from privformers.mpc.transport.connect import Addr
    from privformers.mpc.transport.tls import TlsConfig

STREAM_PREFIX = "[stream] "   # the client process's lines that carry its tokens to the launcher's streamer


@dataclass(frozen=True)
class RandomModel:
    """A model with seeded random weights, from a named shape (benchmarks, tests). Its weights are
    derived from a public seed, so they are no secret; every party builds the architecture.

    arch: "gpt2" (sizes tiny, small, base); recipe: an approximation recipe's name; overrides:
    config fields (e.g. ``{"n_layer": 2}``)."""

    arch: str = "gpt2"
    size: str = "tiny"
    seed: int = 0
    recipe: str | None = None
    overrides: dict = field(default_factory=dict, hash=False)

    def args(self) -> dict:
        return {"arch": self.arch, "size": self.size, "seed": self.seed, "recipe": self.recipe,
                "config": dict(self.overrides)}

    def spec(self) -> ModelSpec:
        return from_args(self.args())


ModelRef = str | Path | RandomModel


@dataclass(frozen=True)
class MpcOptions:
    """Private-generation settings that are not part of a GenerationConfig.

    reveal_logits: reveal each step's logits to the client, who picks the token (faster; the client
    learns the model's whole next-token distribution). stop_early: end the session once every prompt
    has generated an ``eos_token_id`` (the server then learns the number of steps; by default every
    prompt runs ``max_new_tokens`` steps and the client cuts its text). batch_size: prompts per pass.
    pad_to: the width of padded passes (default: each pass's longest prompt). lengths_public: group
    prompts of equal length instead of padding (each length becomes public; the only way for models
    that cannot pad, such as Merge Module students). use_cache: keep past keys and values as secret
    shares. frac_bits: fixed-point precision; bits: comparison width of the argmax. progress: the
    client's per-token lines on stderr."""

    reveal_logits: bool = False
    stop_early: bool = False
    batch_size: int = 8
    pad_to: int | None = None
    lengths_public: bool = False
    use_cache: bool = True
    frac_bits: int = 16
    bits: int = 48
    progress: bool = False

    def __post_init__(self) -> None:
        if type(self.batch_size) is not int or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.pad_to is not None and (type(self.pad_to) is not int or self.pad_to < 1):
            raise ValueError(f"pad_to must be an integer >= 1, got {self.pad_to!r}")
        if not 8 <= self.frac_bits <= 24:
            raise ValueError(f"frac_bits must lie in [8, 24], got {self.frac_bits}")


@dataclass
class GenerationOutput:
    """texts (None without a tokenizer), token_ids (per prompt, in input order, cut after the first
    stop token as ``model.generate`` returns them) and the cost report (``report.plan_report``)."""

    texts: list[str] | None
    token_ids: list[list[int]]
    cost: dict


Prompts = str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]


def prompt_ids(prompts: Prompts, tokenizer: Any) -> list[list[int]]:
    """Token id rows of one prompt or many, given as text or ids; ValueError on empty or bad input
    (never quoting the prompt: it is the client's secret)."""
    if isinstance(prompts, str):
        prompts = [prompts]
    items = list(prompts)
    if not items:
        raise ValueError("no prompt given")
    if all(isinstance(t, int) and not isinstance(t, bool) for t in items):
        items = [items]
    rows = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            if tokenizer is None:
                raise ValueError("text prompts need a tokenizer: pass tokenizer=, or a model folder that holds one")
            row = list(tokenizer(item)["input_ids"])
        else:
            row = list(item)
            if not all(isinstance(t, int) and not isinstance(t, bool) for t in row):
                raise ValueError(f"prompt {i}: token ids must be integers")
        if not row:
            raise ValueError(f"prompt {i} is empty")
        rows.append(row)
    return rows


def _tokenizer_at(model: ModelRef) -> Any:
    if isinstance(model, RandomModel):
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError):
        return None


def _spec(model: ModelRef) -> ModelSpec:
    return model.spec() if isinstance(model, RandomModel) else from_path(model)


def make_plan(spec_config: Any, recipe: Any, lengths: list[int], decoding: Decoding, options: MpcOptions
              ) -> tuple[Plan, list[list[int]]]:
    """The session's public plan and the prompt indices of each pass."""
    many = len(lengths) > 1
    padded = many and not options.lengths_public
    if padded and spec_config is not None:   # None: a served model, whose server checks it
        check_paddable(spec_config, recipe)
    passes, groups = plan_passes(lengths, options.batch_size, padded, options.pad_to if padded else None)
    if options.stop_early and not decoding.stop_ids:
        raise ValueError("stop_early needs an eos_token_id to stop at")
    plan = Plan(passes, decoding.max_new_tokens, padded, decoding.sampling, options.reveal_logits,
                options.stop_early, options.use_cache, options.bits)
    return plan, groups


class _Stream:
    """Feeds a streamer: the prompt first, then each step's tokens, then ``end`` (as ``model.generate``).
    One row stops receiving tokens after its first stop token."""

    def __init__(self, streamer: Any, prompt: list[int], stop_ids: tuple[int, ...]) -> None:
        import torch

        self.streamer, self.stop_ids, self.torch = streamer, stop_ids, torch
        self.done = False
        if streamer is not None:
            streamer.put(torch.tensor([prompt]))

    def tokens(self, _pass: int, _step: int, tokens: list[int]) -> None:
        if self.streamer is None or self.done:
            return
        self.streamer.put(self.torch.tensor(tokens))
        self.done = tokens[0] in self.stop_ids

    def end(self) -> None:
        if self.streamer is not None:
            self.streamer.end()


def generate(model: ModelRef, prompts: Prompts,
             generation_config: GenerationConfig | None = None, *, parties: Parties | None = None,
             tokenizer: Any = None, streamer: Any = None, options: MpcOptions | None = None,
             suppress: Sequence[Collection[int]] | None = None) -> GenerationOutput:
    """Generate privately: the prompts stay with the client, the weights with the server.

    model: a ``save_pretrained`` folder (with its tokenizer for text), or a ``RandomModel``; for a
    ``RemoteServer``, only where the tokenizer is (or None with token-id prompts). prompts: a text,
    a list of texts, a list of ids, or a list of id lists. generation_config: merged over the model
    folder's ``generation_config.json``, as ``model.generate`` does. parties: ``LocalProcesses()`` by
    default. streamer: ``put``/``end`` as in transformers (one pass only, i.e. at most batch_size prompts).
    suppress: per prompt, token ids it may never choose (with ``GenerationConfig.suppress_tokens``, which
    holds for every prompt); the client's secret, at no cost (``sampling.suppressed``)."""
    parties = parties or LocalProcesses()
    options = options or MpcOptions()
    if options.stop_early and getattr(parties, "material_budget_mb", None) is not None:
        raise ValueError("stop_early needs the material made first: leave out material_budget_mb")
    folder = None if isinstance(model, RandomModel) or model is None else Path(model)
    tokenizer = tokenizer if tokenizer is not None else (_tokenizer_at(model) if model is not None else None)
    decoding = decoding_of(merged(model_generation_config(folder), generation_config))
    # a delexicalised model (privformers_delex.json): placeholders in the text prompts, the values kept here
    prompts, mappings = client_prompts(folder, prompts)
    rows = prompt_ids(prompts, tokenizer)
    # and it may not write a placeholder whose slot the prompt lacks (it would stay in the text)
    suppress = banned_tokens(len(rows), decoding.suppress, suppress,
                             None if mappings is None else absent_placeholder_ids(folder, tokenizer, mappings))
    if isinstance(parties, RemoteServer):
        from privformers.generation.serve import served_generation

        plan_of = lambda config, recipe: make_plan(config, recipe, [len(r) for r in rows], decoding, options)  # noqa: E731
        stream_for = lambda first: _Stream(streamer, first, decoding.stop_ids)  # noqa: E731
        if streamer is not None and len(rows) > 1:
            raise ValueError("a streamer follows one prompt (as transformers' streamers do); give one prompt")
        tokens, cost = served_generation(parties, rows, plan_of, decoding.stop_ids, options, stream_for, suppress)
    else:
        spec = _spec(model)
        vocab = int(spec.config.vocab_size)
        for i, row in enumerate(rows):
            if any(not 0 <= t < vocab for t in row):
                raise ValueError(f"prompt {i}: token ids must lie in [0, {vocab}) for this model")
        if suppress is not None and any(not 0 <= t < vocab for row in suppress for t in row):
            raise ValueError(f"suppressed token ids must lie in [0, {vocab}) for this model")
        plan, groups = make_plan(spec.config, spec.recipe, [len(r) for r in rows], decoding, options)
        for _, width in plan.passes:
            check_length(spec, width, plan.max_new_tokens)
        if plan.sampling is not None:
            from privformers.generation.sampling import Sampling, check_sampling

            check_sampling(Sampling(**plan.sampling), vocab, plan.bits)
        if streamer is not None and len(rows) > 1:
            raise ValueError("a streamer follows one prompt (as transformers' streamers do); give one prompt")
        ordered = [rows[i] for g in groups for i in g]
        banned = None if suppress is None else [suppress[i] for g in groups for i in g]
        stream = _Stream(streamer, rows[0], decoding.stop_ids)
        run = _in_process if isinstance(parties, InProcess) else _local_processes
        client, server, meters = run(model, spec, plan, ordered, decoding.stop_ids, stream, parties, options, banned)
        stream.end()
        flat = [row for p in client["passes"] for row in p["tokens"]]
        tokens = [None] * len(rows)
        for i, row in zip((i for g in groups for i in g), flat):
            tokens[i] = row
        cost = plan_report(plan, client, server, *meters, groups)
    out = _output(tokens, cost, decoding, tokenizer)
    if mappings is not None and out.texts is not None:   # the values go back on the client only
        out.texts = [relexicalise(t, m) for t, m in zip(out.texts, mappings)]
    return out


def banned_tokens(rows: int, every: Sequence[int], *per_prompt: Sequence[Collection[int]] | None
                  ) -> list[list[int]] | None:
    """Per prompt, the token ids it may never choose: ``every`` for all, plus each per-prompt list given
    (None where nothing is suppressed at all)."""
    for lists in per_prompt:
        if lists is not None and len(lists) != rows:
            raise ValueError(f"suppressed tokens for {len(lists)} prompts, but {rows} prompts")
    banned = [set(map(int, every)) for _ in range(rows)]
    for lists in per_prompt:
        for row, ids in zip(banned, lists or ()):
            row.update(int(t) for t in ids)
    return [sorted(row) for row in banned] if any(banned) else None


def _output(tokens: list[list[int]], cost: dict, decoding: Decoding, tokenizer: Any) -> GenerationOutput:
    """Cut each row after its first stop token, decode, and cut the text after a stop string."""
    ids = [cut(list(t), decoding.stop_ids) for t in tokens]
    texts = None
    if tokenizer is not None:
        texts = []
        for row in ids:
            text = tokenizer.decode([t for t in row if t not in decoding.stop_ids], skip_special_tokens=True)
            for s in decoding.stop_strings:
                if s in text:
                    text = text[:text.index(s) + len(s)]
            texts.append(text)
    return GenerationOutput(texts, ids, cost)


def _in_process(model: ModelRef, spec: ModelSpec, plan: Plan, prompts: list[list[int]], stop_ids: tuple[int, ...],
                stream: _Stream, parties: InProcess, options: MpcOptions, suppress: list[list[int]] | None = None
                ) -> tuple[dict, dict, tuple[dict, dict]]:
    from privformers.generation.program import generation_program
    from privformers.mpc.session import run_local

    program = generation_program(spec.factory, spec.weights, plan, prompts, stop_ids, stream.tokens,
                                 options.progress, suppress=suppress)
    run = run_local(program, frac_bits=options.frac_bits, timeout=parties.timeout)
    meters = (run.meters["client"].summary(), run.meters["server"].summary())
    return run.results["client"], run.results["server"], meters


def process_args(model: ModelRef, spec: ModelSpec, plan: Plan, prompts: list[list[int]], stop_ids: tuple[int, ...],
                 material_mb: float | None, stream: bool, suppress: list[list[int]] | None = None
                 ) -> tuple[dict, dict, dict]:
    """(public, the client's own, the server's own) arguments of the ``generate`` program for party
    processes: the prompts reach the client alone, the model folder the server alone."""
    public: dict = {"plan": plan.to_json(), "progress": True, "stream": stream}
    server: dict = {}
    if isinstance(model, RandomModel):
        public.update(model.args())
    else:
        public.update(public_spec(spec))
        server["model"] = str(Path(model).resolve())
    if material_mb is not None:
        public["material_mb"] = material_mb
    client: dict = {"prompts": prompts, "stop_ids": list(stop_ids)}
    if suppress is not None:
        client["suppress"] = suppress
    return public, client, server


def _local_processes(model: ModelRef, spec: ModelSpec, plan: Plan, prompts: list[list[int]],
                     stop_ids: tuple[int, ...], stream: _Stream, parties: LocalProcesses, options: MpcOptions,
                     suppress: list[list[int]] | None = None) -> tuple[dict, dict, tuple[dict, dict]]:
    from privformers.mpc.launch import LaunchError, launch_local

    streaming = stream.streamer is not None
    public, client, server = process_args(model, spec, plan, prompts, stop_ids, parties.material_budget_mb, streaming,
                                          suppress)

    def on_line(line: str) -> bool:
        """A stream line from the client: to the streamer, not to our stderr."""
        if not line.startswith(STREAM_PREFIX):
            return False
        event = json.loads(line[len(STREAM_PREFIX):])
        stream.tokens(event["pass"], event["step"], event["tokens"])
        return True

    try:
        reports = launch_local(parties.program, public, parties.timeout, options.frac_bits, parties.insecure_transport,
                               client_args=client, server_args=server, follow="[client]" if options.progress else None,
                               connect_timeout=min(60.0, parties.timeout), server_gemm=parties.server_gemm,
                               on_line=on_line if streaming else None)
    except LaunchError as exc:
        raise RuntimeError(f"private generation failed: {exc}") from None
    c, s = reports["client"], reports["server"]
    out_client, out_server = c["result"], s["result"]
    out_client["cpu_seconds"] = {role: r.get("cpu_seconds") for role, r in reports.items()}
    out_client["offline_bytes"] = sum(r["meter"]["offline_bytes"] for r in reports.values() if r.get("meter"))
    if "layer_costs" in out_client:   # generate-layers: every party's cost inside the decoder layers
        keys = ("layer_costs", "held_bytes", "params", "layers")
        out_client["_layers"] = {role: {**{k: r["result"][k] for k in keys},
                                        "per_token": r["result"]["passes"][0]["per_token"],
                                        "peak_rss_mb": r.get("peak_rss_mb")} for role, r in reports.items()}
    return out_client, out_server, (c["meter"], s["meter"])


def print_stream_line(pass_index: int, step: int, tokens: list[int]) -> None:
    """The client process's side of streaming: one line per step on stderr, read by the launcher."""
    event = {"pass": pass_index, "step": step, "tokens": tokens}
    print(STREAM_PREFIX + json.dumps(event), file=sys.stderr, flush=True)


def remote_generate(server: Addr, dealer: Addr, tls: TlsConfig | None, prompt: list[int], max_new_tokens: int,
                    reveal_logits: bool = False, use_cache: bool = True, bits: int = 48, frac_bits: int = 16,
                    io_timeout: float = 600.0, connect_timeout: float = 30.0, progress: bool = False) -> dict:
    """One prompt, greedy, from a served model: ``generate(None, prompt, ..., parties=RemoteServer(...))``
    as the one-prompt report (tokens, per_token, totals, breakdown). Every step runs; nothing is cut."""
    parties = RemoteServer(server, dealer, tls, connect_timeout, io_timeout)
    options = MpcOptions(reveal_logits=reveal_logits, use_cache=use_cache, frac_bits=frac_bits, bits=bits,
                         progress=progress)
    out = generate(None, prompt, GenerationConfig(max_new_tokens=max_new_tokens, eos_token_id=[]), parties=parties,
                   options=options)
    return {"tokens": out.token_ids[0], **{k: v for k, v in out.cost.items() if k not in ("passes", "per_prompt")}}
