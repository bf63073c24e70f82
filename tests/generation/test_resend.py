"""Generation with Embedding Resending under MPC: the tokens of plaintext ER decoding, chosen at the end."""

from __future__ import annotations

import pytest
import torch
from transformers import BartConfig, T5Config

from privformers.generation import generate_run
from privformers.models.plain import plain_greedy
from privformers.models.random_weights import random_gpt2, random_spec

PROMPT = [5, 17, 42, 8]
PROMPTS = {"bart-merge": [5, 17, 42, 8, 33], "t5-merge": [5, 17, 42, 8, 33]}
SPECS = {  # seeds with non-constant tokens whose top two logits differ by >= 0.17
    "gpt2-merge-er": lambda: random_gpt2("tiny", 0, "merge-er", initializer_range=0.2),
    "gpt2-merge": lambda: random_gpt2("tiny", 6, "merge", initializer_range=0.2),
    "gpt2-merge-quad-affine": lambda: random_gpt2("tiny", 8, "merge-quad-affine", initializer_range=0.2),
    "bart-merge": lambda: random_spec(BartConfig(
        vocab_size=101, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64, init_std=0.2),
        1, "merge-er"),
    "t5-merge": lambda: random_spec(T5Config(vocab_size=101, d_model=32, d_kv=16, d_ff=64, num_layers=1,
                                             num_decoder_layers=1, num_heads=2, initializer_factor=2.0), 2, "merge"),
}


def _reference(spec: object, n: int, prompt: list[int] = PROMPT) -> list[int]:
    model = spec.factory()
    model.load_state_dict(spec.weights())
    tokens, gaps = plain_greedy(model, prompt, n)
    assert min(gaps) > 0.05 and len(set(tokens)) > 1
    return tokens


@pytest.mark.parametrize("name", sorted(SPECS))
def test_resend_generation_matches_plaintext(name: str) -> None:
    spec, prompt = SPECS[name](), PROMPTS.get(name, PROMPT)
    ref = _reference(spec, 3, prompt)
    run = generate_run(spec.factory, spec.weights, prompt, 3)
    client, server = run.results["client"], run.results["server"]
    assert client["tokens"] == ref and server["tokens"] is None
    assert len(client["per_token"]) == 3 and client["final"]["online_bytes"] > 0


def test_resend_without_cache_and_with_revealed_logits() -> None:
    spec = SPECS["gpt2-merge-er"]()
    ref = _reference(spec, 2)
    assert generate_run(spec.factory, spec.weights, PROMPT, 2, use_cache=False).results["client"]["tokens"] == ref
    assert generate_run(spec.factory, spec.weights, PROMPT, 2, reveal_logits=True).results["client"]["tokens"] == ref


def test_no_vocabulary_work_inside_the_loop() -> None:
    """The LM head, argmax and one-hot embedding run once, whatever the number of tokens."""
    spec = SPECS["gpt2-merge-er"]()
    costs = {}
    for n in (1, 3):
        bd = generate_run(spec.factory, spec.weights, PROMPT, n).meters["client"].summary()["breakdown"]
        costs[n] = {k: (bd[k]["rounds"], bd[k]["online_bytes"]) for k in ("embedding", "lm_head", "sampling")}
    assert costs[1]["embedding"] == costs[3]["embedding"]  # the prompt's one-hot lookup only
    for k in ("lm_head", "sampling"):  # one batched head and argmax: same rounds, bytes for 3 rows instead of 1
        assert costs[1][k][0] == costs[3][k][0] and costs[1][k][1] < costs[3][k][1] <= 3 * costs[1][k][1]


def test_resend_inputs_are_the_previous_final_states() -> None:
    """Plaintext ER: step t+1's input embedding is step t's final hidden state (checked on the decoder)."""
    from privformers.approx.resending import resend_greedy

    spec = SPECS["gpt2-merge-er"]()
    model = spec.factory()
    model.load_state_dict(spec.weights())
    seen = []
    hook = model.transformer.register_forward_pre_hook(lambda m, a, k: seen.append(k["inputs_embeds"]),
                                                       with_kwargs=True)
    _, hidden = resend_greedy(model, PROMPT, 3)
    hook.remove()
    assert torch.equal(seen[0][0], model.transformer.wte.weight[PROMPT])
    for t in (1, 2):
        assert torch.equal(seen[t][0, 0], hidden[t - 1])


@pytest.mark.parametrize("recipe", ["merge", None])
def test_plain_greedy_stop_token_ends_at_its_first_occurrence(recipe: str | None) -> None:
    spec = random_gpt2("tiny", 6, recipe, initializer_range=0.2)
    model = spec.factory()
    model.load_state_dict(spec.weights())
    full = plain_greedy(model, PROMPT, 8)[0]
    stop = full[2]
    cut = plain_greedy(model, PROMPT, 8, stop_token=stop)[0]
    assert cut == full[:full.index(stop) + 1] and len(cut) < len(full)


def test_quad_and_affine_cut_activation_and_norm_rounds() -> None:
    """MERGE's run-script recipe: same linear and softmax-free attention as merge, cheaper GeLU and norms."""
    bd = {}
    for recipe in ("merge", "merge-quad-affine"):
        spec = random_gpt2("tiny", 8, recipe, initializer_range=0.2)
        bd[recipe] = generate_run(spec.factory, spec.weights, PROMPT, 2).meters["client"].summary()["breakdown"]
    full, cheap = bd["merge"], bd["merge-quad-affine"]
    assert cheap["softmax"]["online_bytes"] == full["softmax"]["online_bytes"] == 0
    # the FFN's first projection leaves its truncation to the GeLU, Quad or exact, which fuses it
    assert cheap["linear"]["rounds"] == full["linear"]["rounds"]
    for op in ("activation", "norm"):
        assert 0 < cheap[op]["rounds"] < full[op]["rounds"]
