"""The generation program: prefill the prompt, then one decode step per new token, under MPC."""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from transformers.cache_utils import EncoderDecoderCache

import privformers.secure.ops  # noqa: F401 - registers the secure ops
from privformers.approx.convert import recipe_of
from privformers.generation.cache import SecretCache
from privformers.generation.models import decoder_start
from privformers.generation.resend import resend_run
from privformers.generation.sampling import greedy_token, revealed_token
from privformers.mpc.meter import OP_CLASSES, diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.session import LocalRun, Program, run_local
from privformers.secure import tracking
from privformers.secure.fold import fold_layer_norms
from privformers.secure.modules import apply_module_rules
from privformers.secure.tensor import PrivateIds, SecretTensor
from privformers.secure.weights import protect_weights

Weights = dict[str, torch.Tensor] | Callable[[], dict[str, torch.Tensor]] | None


def setup_model(party: Party, factory: Callable[[], torch.nn.Module], weights: Weights) -> torch.nn.Module:
    """Build the model on every party; the server loads the real weights; all become server-held."""
    model = factory().eval()
    if party.role == SERVER:
        model.load_state_dict(weights() if callable(weights) else weights)
    fold_layer_norms(model)   # same architecture change on every party; only the server's weights are real
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


def _ids(party: Party, tokens: list[int]) -> PrivateIds:
    """The client's tokens as secret ids (zeros, the same public shape, on the other parties)."""
    value = torch.tensor([tokens]) if party.role == CLIENT else torch.zeros(1, len(tokens), dtype=torch.long)
    return value.as_subclass(PrivateIds)


def _inputs(party: Party, model: torch.nn.Module, prompt: list[int], generated: list[int], state: dict,
            use_cache: bool) -> dict[str, Any]:
    """This step's model inputs. Decoder-only: the prompt, then the last token (all, without cache).
    Encoder-decoder: the prompt to the encoder and the start token, then the encoder's (secret)
    output and the last token (everything again, without cache)."""
    cached = use_cache and bool(generated)
    if not model.config.is_encoder_decoder:
        return {"input_ids": _ids(party, generated[-1:] if cached else prompt + generated)}
    decoder = [decoder_start(model.config), *generated]
    if cached:
        return {"encoder_outputs": (state["encoder"],), "decoder_input_ids": _ids(party, decoder[-1:])}
    return {"input_ids": _ids(party, prompt), "decoder_input_ids": _ids(party, decoder)}


def _new_cache(model: torch.nn.Module) -> SecretCache | EncoderDecoderCache:
    if model.config.is_encoder_decoder:
        return EncoderDecoderCache(SecretCache(), SecretCache())
    return SecretCache()


def generate_program(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int],
                     max_new_tokens: int, reveal_logits: bool = False, use_cache: bool = True,
                     bits: int = 48, progress: bool = False) -> Program:
    """Greedy generation of a public number of tokens from the client's secret prompt.

    With ``use_cache`` the keys and values of past positions stay as secret shares in a
    ``SecretCache`` and each decode step runs the model on one new position; without it every
    step reruns the whole sequence. The client's result: tokens and per-token costs; the
    server's: its own per-token costs (what it sent). A model converted with Embedding
    Resending (``privformers.approx``) runs ``resend_run`` instead: tokens at the end, and a
    "final" cost for the LM head and argmax over all steps.
    """
    if max_new_tokens < 1 or not prompt:
        raise ValueError("need a non-empty prompt and max_new_tokens >= 1")

    def run(party: Party, model: torch.nn.Module) -> dict[str, Any]:
        recipe = recipe_of(model)
        if recipe is not None and recipe.resend:
            return resend_run(party, model, prompt, max_new_tokens, reveal_logits, use_cache, bits, progress,
                              _new_cache, step_cost)
        tracking.reset()
        cache = _new_cache(model) if use_cache else None
        extra = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        generated, tokens, costs, state = [], [], [], {}
        for step in range(max_new_tokens):
            before, t0 = party.meter.snapshot(), time.perf_counter()
            with torch.no_grad():
                out = model(**_inputs(party, model, prompt, generated, state, use_cache), past_key_values=cache,
                            use_cache=use_cache, **extra)
            if model.config.is_encoder_decoder and not generated:
                state["encoder"] = out.encoder_last_hidden_state
            logits = out.logits
            if not isinstance(logits, SecretTensor):
                raise TypeError("model logits are not a secret tensor")
            with party.meter.scope("sampling"):
                share = logits.share[:, -1, :]
                token = revealed_token(share) if reveal_logits else greedy_token(share, bits)
            costs.append(step_cost(party.meter.snapshot(), before, time.perf_counter() - t0))
            generated.append(0 if token is None else token)
            tokens.append(token)
            if progress and party.role == CLIENT and party.mode == "online":
                print(f"[client] token {step + 1}/{max_new_tokens}: {token} ({costs[-1]['seconds']:.2f} s, "
                      f"{costs[-1]['online_bytes']} B, {costs[-1]['rounds']} rounds)", file=sys.stderr, flush=True)
        return {"tokens": tokens if party.role == CLIENT else None, "per_token": costs}

    return Program(run=run, setup=lambda party: setup_model(party, factory, weights))


def generate_run(factory: Callable[[], torch.nn.Module], weights: Weights, prompt: list[int], max_new_tokens: int,
                 frac_bits: int = 16, **options: Any) -> LocalRun:
    """Run generation with the three parties as threads of this process (tests, quick checks)."""
    return run_local(generate_program(factory, weights, prompt, max_new_tokens, **options), frac_bits=frac_bits)
