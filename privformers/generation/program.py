"""The generation program: prefill the prompt, then one decode step per new token, under MPC."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch
from transformers.cache_utils import EncoderDecoderCache

import privformers.secure.ops  # noqa: F401 - registers the secure ops
from privformers.approx.convert import recipe_of
from privformers.generation.cache import SecretCache
from privformers.generation.ids import batch_ids
from privformers.generation.padding import SECRET_POSITIONS, PaddedBatch, check_paddable
from privformers.generation.plan import Plan
from privformers.generation.resend import resend_run
from privformers.generation.sampling import greedy_tokens, revealed_tokens, suppressed
from privformers.hf import decoder_start
from privformers.kv_cache import cache_kwargs
from privformers.mpc.meter import OP_CLASSES, diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.session import LocalRun, Program, run_local
from privformers.secure import tracking
from privformers.secure.adapt import adapt
from privformers.secure.key_mask import secret_key_mask
from privformers.secure.modules import apply_module_rules
from privformers.secure.placeholders import shape_only_parameters
from privformers.secure.tensor import SecretTensor
from privformers.secure.weights import protect_weights

Weights = dict[str, torch.Tensor] | Callable[[], dict[str, torch.Tensor]] | None


def setup_model(party: Party, factory: Callable[[], torch.nn.Module], weights: Weights) -> torch.nn.Module:
    """Build the model on every party; the server loads the real weights; all become server-held."""
    with shape_only_parameters(party.role != SERVER):   # client and dealer: shapes only, no memory
        model = factory().eval()
    if party.role == SERVER:
        model.load_state_dict(weights() if callable(weights) else weights)
    adapt(model)   # folds, secure attention: the same change on every party; only the server's weights are real
    protect_weights(model, party)
    tracking.track_modules(model)
    apply_module_rules(model)
    return model


def step_cost(after: dict, before: dict, seconds: float) -> dict:
    """Seconds, online bytes sent and online rounds between two meter snapshots of one party."""
    d = diff(after, before)
    online = lambda table: sum(v for k, v in table.items() if k.startswith("online/"))  # noqa: E731
    classes = {c: {"seconds": round(d["seconds"].get(c, 0.0), 6), "online_bytes": d["bytes"].get(f"online/{c}", 0),
                   "rounds": d["rounds"].get(f"online/{c}", 0)} for c in OP_CLASSES}
    return {"seconds": round(seconds, 6), "online_bytes": online(d["bytes"]), "rounds": online(d["rounds"]),
            "classes": classes}


def check_batch(prompts: Sequence[Sequence[int]], max_new_tokens: int, padded_to: int | None = None) -> None:
    """A batch is non-empty prompts of one (public) length, or of lengths up to ``padded_to`` for a
    padded batch, and at least one new token."""
    if max_new_tokens < 1 or not prompts or any(not p for p in prompts):
        raise ValueError("need non-empty prompts and max_new_tokens >= 1")
    if padded_to is not None:
        if max(len(p) for p in prompts) > padded_to:
            raise ValueError(f"a prompt is longer than the batch's padded length {padded_to}")
    elif len({len(p) for p in prompts}) != 1:
        raise ValueError("the prompts of one batch must have the same length (or pad the batch)")


def _inputs(party: Party, model: torch.nn.Module, prompts: Sequence[list[int]], generated: list[list[int]],
            state: dict, use_cache: bool, padded: PaddedBatch | None = None) -> dict[str, Any]:
    """This step's model inputs, one row per prompt. Decoder-only: the prompts, then the last tokens
    (all, without cache); a padded batch adds its secret position ids (models with learned positions)
    and a public all-ones attention mask (the real one is secret: ``padded_step``). Encoder-decoder:
    the prompts to the encoder and the start token, then the encoder's (secret) output and the last
    tokens (everything again, without cache)."""
    cached = use_cache and bool(generated[0])
    if not model.config.is_encoder_decoder:
        if padded is None:
            return {"input_ids": batch_ids(party, [g[-1:] if cached else p + g for p, g in zip(prompts, generated)])}
        columns = padded.width + len(generated[0])
        first = columns - 1 if cached else 0
        rows = [(r + g)[first:] for r, g in zip(padded.rows, generated)]
        out = {"input_ids": batch_ids(party, rows), "attention_mask": torch.ones(len(rows), columns, dtype=torch.long)}
        if model.config.model_type in SECRET_POSITIONS:
            out["position_ids"] = padded.positions(party, first, columns - first)
        return out
    decoder = [[decoder_start(model.config), *g] for g in generated]
    if cached:
        last = batch_ids(party, [d[-1:] for d in decoder])
        return {"encoder_outputs": (state["encoder"],), "decoder_input_ids": last}
    return {"input_ids": batch_ids(party, prompts), "decoder_input_ids": batch_ids(party, decoder)}


def _new_cache(model: torch.nn.Module) -> SecretCache | EncoderDecoderCache:
    if model.config.is_encoder_decoder:
        return EncoderDecoderCache(SecretCache(), SecretCache())
    return SecretCache()


def stopped(rows: Sequence[Sequence[int]], stop_ids: Collection[int]) -> bool:
    """Whether every row has generated one of the stop ids."""
    return bool(stop_ids) and all(any(t in stop_ids for t in row) for row in rows)


def end_here(party: Party, generated: Sequence[Sequence[int]], stop_ids: Collection[int]) -> bool:
    """With ``stop_early``, after each online step: the client tells the server whether every row has
    reached a stop token (one 8-byte message, one round); both then end or go on together. The server
    learns how many tokens were generated, and nothing else. The dealer (offline) made material for
    every step; the rest is dropped. The offline pass never stops early (it knows no tokens)."""
    if party.mode != "online" or party.role not in (CLIENT, SERVER):
        return False
    with party.meter.scope("other"):
        if party.role == CLIENT:
            done = stopped(generated, stop_ids)
            party.send(SERVER, torch.tensor([int(done)], dtype=torch.int64))
        else:
            flag = party.recv_tensor(CLIENT)
            if tuple(flag.shape) != (1,) or int(flag[0]) not in (0, 1):
                raise ValueError("malformed stop flag from the client")
            done = bool(flag[0])
    party.ended_early = party.ended_early or done
    return done


def batch_run(party: Party, model: torch.nn.Module, prompts: Sequence[list[int]], max_new_tokens: int,
              reveal_logits: bool = False, use_cache: bool = True, bits: int = 48,
              progress: bool = False, padded_to: int | None = None, *, sampling: dict | None = None,
              stop_early: bool = False,
              stop_ids: Collection[int] = (), on_tokens: Callable[[int, list[int]], None] | None = None,
              suppress: Sequence[Collection[int]] | None = None) -> dict[str, Any]:
    """One party's greedy generation for a batch of prompts, one secure pass per step for all rows.

    The prompts have one length, or (``padded_to``: the public width) the client's may differ and
    are left-padded, their lengths kept secret (``padding.py``; the other parties pass placeholder
    rows of that width). ``sampling`` (public): temperature, top_k and top_p for sampled tokens (None:
    the secure argmax; ``choose_tokens``). ``stop_early`` (public, opt-in): the session ends once every row has
    generated one of the client's ``stop_ids`` (``end_here``: the server then learns the number of
    steps); otherwise every row runs ``max_new_tokens`` steps. ``suppress`` (client only, secret): per row,
    token ids it may never choose (``sampling.suppressed``; no cost). ``on_tokens(step, tokens)`` (client,
    online): each step's tokens, one per row, as soon as the client learns them. Result: per row the
    tokens (client only; None elsewhere) and the batch's per-step costs; a model converted with
    Embedding Resending runs ``resend_run`` (all tokens at the end)."""
    check_batch(prompts, max_new_tokens, padded_to)
    recipe = recipe_of(model)
    padded = None
    if padded_to is not None:
        check_paddable(model.config, recipe)
        padded = PaddedBatch.of(party, prompts, padded_to)
    if recipe is not None and recipe.resend:
        if stop_early:
            raise ValueError("stop_early needs each token as it is made; a model with Embedding Resending knows "
                             "its tokens only at the end")
        every_step = None if suppress is None else [ids for ids in suppress for _ in range(max_new_tokens)]
        result = resend_run(party, model, prompts, max_new_tokens, reveal_logits, use_cache, bits, progress,
                            _new_cache, step_cost,
                            lambda share: choose_tokens(suppressed(share, every_step), reveal_logits, sampling, bits))
        if on_tokens is not None and result["tokens"] is not None and party.mode == "online":
            for step in range(max_new_tokens):
                on_tokens(step, [row[step] for row in result["tokens"]])
        return result
    tracking.reset()
    cache = _new_cache(model) if use_cache else None
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    extra.update(cache_kwargs(model, cache))  # the same cache object every step
    generated: list[list[int]] = [[] for _ in prompts]
    costs, state = [], {}
    for step in range(max_new_tokens):
        before, t0 = party.meter.snapshot(), time.perf_counter()
        keep = None if padded is None else padded.keep(party, padded.width + len(generated[0]))
        with torch.no_grad(), secret_key_mask(keep):
            out = model(**_inputs(party, model, prompts, generated, state, use_cache, padded), use_cache=use_cache,
                        **extra)
        if model.config.is_encoder_decoder and step == 0:
            state["encoder"] = out.encoder_last_hidden_state
        logits = out.logits
        if not isinstance(logits, SecretTensor):
            raise TypeError("model logits are not a secret tensor")
        with party.meter.scope("sampling"):
            chosen = choose_tokens(suppressed(logits.share[:, -1, :], suppress), reveal_logits, sampling, bits)
        for row, token in zip(generated, chosen or [0] * len(prompts)):
            row.append(token)
        if on_tokens is not None and chosen is not None and party.mode == "online":
            on_tokens(step, list(chosen))
        done = stop_early and end_here(party, generated, stop_ids)
        costs.append(step_cost(party.meter.snapshot(), before, time.perf_counter() - t0))
        if progress and party.role == CLIENT and party.mode == "online":
            print(f"[client] token {step + 1}/{max_new_tokens}: {chosen} ({costs[-1]['seconds']:.2f} s, "
                  f"{costs[-1]['online_bytes']} B, {costs[-1]['rounds']} rounds)", file=sys.stderr, flush=True)
        if done:
            break
    return {"tokens": generated if party.role == CLIENT else None, "per_token": costs}


def choose_tokens(share: Any, reveal_logits: bool, sampling: dict | None, bits: int) -> list[int] | None:
    """Each row's next token from its secret logits: the secure argmax, a sample (``sampling``:
    temperature, top_k, top_p; the randomness is the dealer's), or (opt-in) the logits revealed to the
    client, who takes the argmax. Revealed to the client only (None elsewhere)."""
    if sampling is not None:
        from privformers.generation.sampling import Sampling, sampled_tokens

        return sampled_tokens(share, Sampling(**sampling), bits)
    return revealed_tokens(share) if reveal_logits else greedy_tokens(share, bits)


def generation_program(factory: Callable[[], torch.nn.Module], weights: Weights, plan: Plan,
                       prompts: Sequence[Sequence[int]] | None = None, stop_ids: Collection[int] = (),
                       on_tokens: Callable[[int, int, list[int]], None] | None = None, progress: bool = False,
                       material_budget: int | None = None, suppress: Sequence[Collection[int]] | None = None
                       ) -> Program:
    """The session every route runs (threads, local processes, a served model): the plan's passes in
    order, each a ``batch_run`` over its rows.

    Client only: prompts (in pass order: the first pass's rows, then the second's ...), stop_ids
    (with ``plan.stop_early``), on_tokens(pass, step, tokens) and suppress (per prompt, in the same order:
    token ids it may never choose). Every party: the public plan. The
    client's result: per pass the rows' tokens and the pass's per-step costs; the server's: its own
    per-step costs. material_budget: stream the correlated material at most this many bytes ahead
    of the online pass (bounded memory; not with ``stop_early``, which drops unused material)."""
    if material_budget is not None and material_budget <= 0:
        raise ValueError(f"material budget must be positive, got {material_budget} bytes")
    if plan.stop_early and material_budget is not None:
        raise ValueError("stop_early needs the material made first: leave out the material budget")
    if suppress is not None and (prompts is None or len(suppress) != len(prompts)):
        raise ValueError("suppressed tokens are given per prompt, by the client")
    if prompts is not None:
        if len(prompts) != plan.rows:
            raise ValueError(f"{len(prompts)} prompts for a plan of {plan.rows} rows")
        i = 0
        for rows, width in plan.passes:
            lengths = [len(q) for q in prompts[i:i + rows]]
            if (max(lengths) > width) if plan.padded else any(n != width for n in lengths):
                raise ValueError(f"prompts of lengths {lengths} do not fit a pass of width {width}")
            i += rows

    def run(party: Party, model: torch.nn.Module) -> dict[str, Any]:
        out, start = [], 0
        for index, (rows, width) in enumerate(plan.passes):
            own = prompts is not None and party.role == CLIENT
            batch = [list(q) for q in prompts[start:start + rows]] if own else [[0] * width for _ in range(rows)]
            hook = None if on_tokens is None else (lambda step, tokens, _i=index: on_tokens(_i, step, tokens))
            banned = list(suppress[start:start + rows]) if own and suppress is not None else None
            result = batch_run(party, model, batch, plan.max_new_tokens, plan.reveal_logits, plan.use_cache,
                               plan.bits, progress, width if plan.padded else None, sampling=plan.sampling,
                               stop_early=plan.stop_early, stop_ids=stop_ids if own else (), on_tokens=hook,
                               suppress=banned)
            out.append(result)
            start += rows
        return {"passes": out}

    return Program(run=run, setup=lambda party: setup_model(party, factory, weights), material_budget=material_budget)


def generate_program(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int],
                     max_new_tokens: int, reveal_logits: bool = False, use_cache: bool = True,
                     bits: int = 48, progress: bool = False, material_budget: int | None = None) -> Program:
    """One prompt, greedy (or with the logits revealed): ``generation_program`` with a one-row plan. The
    client's result: tokens and per-token costs (and ``final`` with Embedding Resending)."""
    check_batch([prompt], max_new_tokens)
    plan = Plan(((1, len(prompt)),), max_new_tokens, reveal_logits=reveal_logits, use_cache=use_cache, bits=bits)
    inner = generation_program(factory, weights, plan, [prompt], progress=progress, material_budget=material_budget)

    def run(party: Party, model: torch.nn.Module) -> dict[str, Any]:
        result = inner.run(party, model)["passes"][0]
        return {**result, "tokens": None if result["tokens"] is None else result["tokens"][0]}

    return Program(run=run, setup=inner.setup, material_budget=material_budget)


def generate_run(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int], max_new_tokens: int,
                 frac_bits: int = 16, **options: Any) -> LocalRun:
    """Run generation with the three parties as threads of this process (tests, quick checks)."""
    return run_local(generate_program(factory, weights, prompt, max_new_tokens, **options), frac_bits=frac_bits)
