"""Equal-length prompts share a secure pass: each row's tokens equal that prompt's plaintext greedy
tokens, results come back in input order, and a pass's cost is split between its rows."""

from __future__ import annotations

import pytest

from privformers.generation.program import batch_run, check_batch, setup_model
from privformers.models.plain import plain_greedy
from privformers.models.random_weights import random_spec
from privformers.mpc.session import Program, run_local
from tests.generation.helpers import SPEC, plain_model
from tests.generation.test_resend import SPECS as RESEND_SPECS
from tests.generation.test_seq2seq import CONFIGS as SEQ2SEQ

ROWS = [[5, 17, 42, 8], [9, 3, 77, 21], [60, 2, 14, 88]]


def _decisive(model, prompts: list[list[int]], n: int) -> list[list[int]]:
    refs = []
    for p in prompts:
        tokens, gaps = plain_greedy(model, p, n)
        assert min(gaps) > 0.05, (p, gaps)  # the MPC error cannot flip a choice
        refs.append(tokens)
    assert len({tuple(r) for r in refs}) > 1  # the rows really differ
    return refs


def _batch(spec, prompts: list[list[int]], n: int, **options) -> dict:
    program = Program(run=lambda party, model: batch_run(party, model, prompts, n, **options),
                      setup=lambda party: setup_model(party, spec.factory, spec.weights))
    run = run_local(program)
    assert run.results["server"]["tokens"] is None and run.results["dealer"]["tokens"] is None
    return run.results["client"]


@pytest.mark.parametrize("use_cache", [True, False])
def test_batched_rows_equal_their_own_plaintext(use_cache: bool) -> None:
    refs = _decisive(plain_model(), ROWS, 3)
    client = _batch(SPEC, ROWS, 3, use_cache=use_cache)
    assert client["tokens"] == refs
    assert len(client["per_token"]) == 3


def test_batched_encoder_decoder_rows_equal_their_own_plaintext() -> None:
    config, seed = SEQ2SEQ["bart"]
    spec = random_spec(config, seed)
    model = spec.factory()
    model.load_state_dict(spec.weights())
    prompts = [[5, 17, 42, 8, 33], [9, 3, 77, 21, 40]]
    assert _batch(spec, prompts, 3)["tokens"] == _decisive(model, prompts, 3)


@pytest.mark.parametrize("name", ["gpt2-merge", "bart-merge"])
def test_batched_resending_rows_equal_their_own_plaintext(name: str) -> None:
    spec = RESEND_SPECS[name]()
    model = spec.factory()
    model.load_state_dict(spec.weights())
    prompts = [[5, 17, 42, 8, 33], [9, 3, 77, 21, 40]]
    refs = _decisive(model, prompts, 3)
    client = _batch(spec, prompts, 3)
    assert client["tokens"] == refs and client["final"]["online_bytes"] > 0


def test_unequal_lengths_are_refused_in_one_batch() -> None:
    with pytest.raises(ValueError, match="same length"):
        check_batch([[5, 17, 42, 8], [9, 3, 77]], 2)
    with pytest.raises(RuntimeError, match="same length"):  # every party refuses, before any message
        _batch(SPEC, [[5, 17, 42, 8], [9, 3, 77]], 2)


def test_many_prompts_batched_by_length_in_input_order() -> None:
    """With lengths public, prompts of one length share a pass; results come back in input order and a
    prompt's cost is its pass's cost over the rows sharing it."""
    from transformers import GenerationConfig

    from privformers.generation import InProcess, MpcOptions, RandomModel, generate

    prompts = [ROWS[0], [9, 3, 77], ROWS[1], [4, 50, 6], ROWS[2]]
    refs = [plain_greedy(plain_model(), p, 2)[0] for p in prompts]
    model = RandomModel(seed=1, overrides={"initializer_range": 0.2, "eos_token_id": None})   # = SPEC
    config = GenerationConfig(max_new_tokens=2)
    out = generate(model, prompts, config, parties=InProcess(), options=MpcOptions(batch_size=2, lengths_public=True))
    assert out.token_ids == refs
    # lengths 3, 3 | 4, 4 | 4: three passes; a prompt's cost is its pass's cost over the rows sharing it
    costs = out.cost["per_prompt"]
    assert [c["batch"] for c in costs] == [2, 2, 2, 2, 1]
    assert costs[1]["decode_rounds"] == costs[3]["decode_rounds"]
    assert costs[4]["decode_rounds"] == 2 * costs[0]["decode_rounds"]
    one = MpcOptions(batch_size=1, lengths_public=True)
    single = generate(model, prompts, config, parties=InProcess(), options=one)
    assert single.token_ids == refs and all(c["batch"] == 1 for c in single.cost["per_prompt"])
