"""The generation loop with Embedding Resending (models converted with a recipe that has ``resend``).

Each step runs the decoder on secret input embeddings (step 0: the prompt or start token,
one-hot embedded; then the previous step's last final hidden state, still secret) and keeps
that step's last final hidden state. After the last step the LM head runs once on all N states
and one batched secure argmax picks the N tokens, revealed to the client only (or, with
``reveal_logits``, the N rows of logits are revealed to the client). As in MERGE, the tokens
are known only at the end; nothing vocabulary-sized runs inside the loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from privformers.approx.resending import embed, encode, final_hidden, head_logits, start_ids
from privformers.generation.ids import batch_ids
from privformers.generation.sampling import greedy_tokens, revealed_tokens
from privformers.kv_cache import cache_kwargs
from privformers.mpc.party import CLIENT, Party
from privformers.secure import tracking
from privformers.secure.tensor import SecretTensor


def resend_run(party: Party, model: torch.nn.Module, prompts: Sequence[list[int]], max_new_tokens: int,
               reveal_logits: bool, use_cache: bool, bits: int, progress: bool, new_cache: Any,
               step_cost: Any, choose: Callable[[Any], list[int] | None] | None = None) -> dict[str, Any]:
    """One party's ER generation for a batch of equal-length prompts: per-step costs, the final (LM
    head and token choice) cost, and per row the client's tokens. choose(rows of secret logits): the
    tokens (default: the secure argmax, or the revealed logits' argmax with ``reveal_logits``)."""
    tracking.reset()
    cache = new_cache(model) if use_cache else None
    passed_cache = cache_kwargs(model.get_decoder(), cache)  # the same cache object every step
    costs, states = [], []
    with torch.no_grad():
        before, t0 = party.meter.snapshot(), time.perf_counter()
        enc = encode(model, batch_ids(party, prompts)) if model.config.is_encoder_decoder else None
        first = embed(model, batch_ids(party, [start_ids(model, p) for p in prompts]))
        x = first
        for step in range(max_new_tokens):
            if step:
                before, t0 = party.meter.snapshot(), time.perf_counter()
            out = final_hidden(model, x, enc, **passed_cache, use_cache=use_cache)
            h = out.last_hidden_state[:, -1:]
            if not isinstance(h, SecretTensor):
                raise TypeError("the final hidden state is not a secret tensor")
            states.append(h)
            x = h if use_cache else torch.cat([first, *states], 1)
            costs.append(step_cost(party.meter.snapshot(), before, time.perf_counter() - t0))
            if progress and party.role == CLIENT and party.mode == "online":
                print(f"[client] step {step + 1}/{max_new_tokens} ({costs[-1]['seconds']:.2f} s, "
                      f"{costs[-1]['online_bytes']} B, {costs[-1]['rounds']} rounds)", file=sys.stderr, flush=True)
        before, t0 = party.meter.snapshot(), time.perf_counter()
        logits = head_logits(model, torch.cat(states, 1))
        with party.meter.scope("sampling"):
            rows = logits.share.reshape(-1, logits.shape[-1])
            if choose is not None:
                tokens = choose(rows)
            else:
                tokens = revealed_tokens(rows) if reveal_logits else greedy_tokens(rows, bits)
    final = step_cost(party.meter.snapshot(), before, time.perf_counter() - t0)
    if party.role != CLIENT or tokens is None:
        return {"tokens": None, "per_token": costs, "final": final}
    per_row = [tokens[i * max_new_tokens:(i + 1) * max_new_tokens] for i in range(len(prompts))]
    return {"tokens": per_row, "per_token": costs, "final": final}
