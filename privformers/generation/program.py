"""The generation program: prefill the prompt, then one decode step per new token, under MPC."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers.cache_utils import EncoderDecoderCache

import privformers.secure.ops  # noqa: F401 - registers the secure ops
from privformers.approx.convert import recipe_of
from privformers.generation.cache import SecretCache
from privformers.generation.ids import batch_ids
from privformers.generation.models import decoder_start
from privformers.generation.resend import resend_run
from privformers.generation.sampling import greedy_tokens, revealed_tokens
from privformers.kv_cache import cache_kwargs
from privformers.mpc.meter import OP_CLASSES, diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.session import LocalRun, Program, run_local
from privformers.secure import tracking
from privformers.secure.adapt import adapt
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


def check_batch(prompts: Sequence[Sequence[int]], max_new_tokens: int) -> None:
    """A batch is non-empty prompts of one (public) length and at least one new token."""
    if max_new_tokens < 1 or not prompts or any(not p for p in prompts):
        raise ValueError("need non-empty prompts and max_new_tokens >= 1")
    if len({len(p) for p in prompts}) != 1:
        raise ValueError("the prompts of one batch must have the same length")


def _inputs(party: Party, model: torch.nn.Module, prompts: Sequence[list[int]], generated: list[list[int]],
            state: dict, use_cache: bool) -> dict[str, Any]:
    """This step's model inputs, one row per prompt. Decoder-only: the prompts, then the last tokens
    (all, without cache). Encoder-decoder: the prompts to the encoder and the start token, then the
    encoder's (secret) output and the last tokens (everything again, without cache)."""
    cached = use_cache and bool(generated[0])
    if not model.config.is_encoder_decoder:
        return {"input_ids": batch_ids(party, [g[-1:] if cached else p + g for p, g in zip(prompts, generated)])}
    decoder = [[decoder_start(model.config), *g] for g in generated]
    if cached:
        last = batch_ids(party, [d[-1:] for d in decoder])
        return {"encoder_outputs": (state["encoder"],), "decoder_input_ids": last}
    return {"input_ids": batch_ids(party, prompts), "decoder_input_ids": batch_ids(party, decoder)}


def _new_cache(model: torch.nn.Module) -> SecretCache | EncoderDecoderCache:
    if model.config.is_encoder_decoder:
        return EncoderDecoderCache(SecretCache(), SecretCache())
    return SecretCache()


def batch_run(party: Party, model: torch.nn.Module, prompts: Sequence[list[int]], max_new_tokens: int,
              reveal_logits: bool = False, use_cache: bool = True, bits: int = 48,
              progress: bool = False) -> dict[str, Any]:
    """One party's greedy generation for a batch of equal-length prompts, one secure pass per step
    for all rows. Result: per row the tokens (client only; None elsewhere) and the batch's per-step
    costs; a model converted with Embedding Resending runs ``resend_run`` (tokens at the end)."""
    check_batch(prompts, max_new_tokens)
    recipe = recipe_of(model)
    if recipe is not None and recipe.resend:
        return resend_run(party, model, prompts, max_new_tokens, reveal_logits, use_cache, bits, progress,
                          _new_cache, step_cost)
    tracking.reset()
    cache = _new_cache(model) if use_cache else None
    extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    extra.update(cache_kwargs(model, cache))  # the same cache object every step
    generated: list[list[int]] = [[] for _ in prompts]
    costs, state = [], {}
    for step in range(max_new_tokens):
        before, t0 = party.meter.snapshot(), time.perf_counter()
        with torch.no_grad():
            out = model(**_inputs(party, model, prompts, generated, state, use_cache), use_cache=use_cache,
                        **extra)
        if model.config.is_encoder_decoder and step == 0:
            state["encoder"] = out.encoder_last_hidden_state
        logits = out.logits
        if not isinstance(logits, SecretTensor):
            raise TypeError("model logits are not a secret tensor")
        with party.meter.scope("sampling"):
            share = logits.share[:, -1, :]
            chosen = revealed_tokens(share) if reveal_logits else greedy_tokens(share, bits)
        costs.append(step_cost(party.meter.snapshot(), before, time.perf_counter() - t0))
        for row, token in zip(generated, chosen or [0] * len(prompts)):
            row.append(token)
        if progress and party.role == CLIENT and party.mode == "online":
            print(f"[client] token {step + 1}/{max_new_tokens}: {chosen} ({costs[-1]['seconds']:.2f} s, "
                  f"{costs[-1]['online_bytes']} B, {costs[-1]['rounds']} rounds)", file=sys.stderr, flush=True)
    return {"tokens": generated if party.role == CLIENT else None, "per_token": costs}


def generate_program(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int],
                     max_new_tokens: int, reveal_logits: bool = False, use_cache: bool = True,
                     bits: int = 48, progress: bool = False, material_budget: int | None = None) -> Program:
    """Greedy generation of a public number of tokens from the client's secret prompt.

    With ``use_cache`` the keys and values of past positions stay as secret shares in a
    ``SecretCache`` and each decode step runs the model on one new position; without it every
    step reruns the whole sequence. The client's result: tokens and per-token costs; the
    server's: its own per-token costs (what it sent). A model converted with Embedding
    Resending (``privformers.approx``) runs ``resend_run`` instead: tokens at the end, and a
    "final" cost for the LM head and argmax over all steps. material_budget: stream the correlated
    material, at most this many bytes ahead of the online pass (bounded memory for long prompts on
    large models; the online time then includes waiting for material); None makes it all first.
    """
    check_batch([prompt], max_new_tokens)
    if material_budget is not None and material_budget <= 0:
        raise ValueError(f"material budget must be positive, got {material_budget} bytes")

    def run(party: Party, model: torch.nn.Module) -> dict[str, Any]:
        result = batch_run(party, model, [list(prompt)], max_new_tokens, reveal_logits, use_cache, bits, progress)
        return {**result, "tokens": None if result["tokens"] is None else result["tokens"][0]}

    return Program(run=run, setup=lambda party: setup_model(party, factory, weights), material_budget=material_budget)


def generate_run(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int], max_new_tokens: int,
                 frac_bits: int = 16, **options: Any) -> LocalRun:
    """Run generation with the three parties as threads of this process (tests, quick checks)."""
    return run_local(generate_program(factory, weights, prompt, max_new_tokens, **options), frac_bits=frac_bits)
