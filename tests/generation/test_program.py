"""Greedy generation under MPC (parties as threads) equals plaintext greedy decoding."""

from __future__ import annotations

import pytest

from privformers.generation import generate_run
from privformers.models.plain import plain_greedy
from tests.generation.helpers import PROMPT, SPEC, plain_model

NEW = 4


@pytest.mark.parametrize("reveal_logits", [False, True])
def test_secure_greedy_matches_plaintext(reveal_logits: bool) -> None:
    ref, gaps = plain_greedy(plain_model(), PROMPT, NEW)
    assert min(gaps) > 0.1 and len(set(ref)) > 1  # a decisive, non-constant reference
    run = generate_run(SPEC.factory, SPEC.weights, PROMPT, NEW, reveal_logits=reveal_logits)
    client, server = run.results["client"], run.results["server"]
    assert client["tokens"] == ref
    assert server["tokens"] is None  # the server learns no token
    assert len(client["per_token"]) == NEW
    assert all(c["online_bytes"] > 0 and c["rounds"] > 0 for c in client["per_token"])
    sampling = run.meters["client"].summary()["breakdown"]["sampling"]
    assert sampling["rounds"] >= NEW


def test_cache_and_full_recompute_agree() -> None:
    cached = generate_run(SPEC.factory, SPEC.weights, PROMPT, 2).results["client"]
    full = generate_run(SPEC.factory, SPEC.weights, PROMPT, 2, use_cache=False).results["client"]
    assert cached["tokens"] == full["tokens"]
    # a cached decode step sends less than rerunning the grown sequence
    assert cached["per_token"][1]["online_bytes"] < full["per_token"][1]["online_bytes"]


def test_a_decode_step_opens_only_the_new_key_and_value_rows() -> None:
    """With the held KV cache a decode step's attention products open the new row of each cached key and
    value, not the whole cache: per cached position a step's linear bytes grow only by the attention
    weights' opening (4 bytes per head and layer here), not by every cached key and value row (2 layers
    x (key + value) x 32 wide x 8 bytes = 1,024 bytes per position, as fresh triples would)."""
    steps = {n: generate_run(SPEC.factory, SPEC.weights, PROMPT * n, 3).results["client"]["per_token"]
             for n in (1, 3)}
    linear = {n: [s["classes"]["linear"]["online_bytes"] for s in rows[1:]] for n, rows in steps.items()}
    per_position = (linear[3][0] - linear[1][0]) / (len(PROMPT) * 2)
    assert 0 < per_position <= 64, linear
    assert linear[1][1] - linear[1][0] == per_position   # one more cached position, one step later
