"""Private greedy generation with the secret KV cache on Llama-family decoders: equal to plaintext greedy
decoding on decisive prompts; the cache holds the KV heads only; a decode step's cost per layer pinned."""

from __future__ import annotations

import pytest
import torch

from privformers.generation.cache import SecretCache
from privformers.generation.program import generate_run, setup_model
from privformers.generation.sampling import greedy_tokens
from privformers.models.plain import plain_greedy
from privformers.mpc.party import CLIENT
from privformers.mpc.session import Program, run_local
from privformers.secure.tensor import SecretTensor
from tests.secure.test_llama_family import causal_lm, config

PROMPT = [60, 50, 40, 30, 20, 10, 9]


def _decisive_model(family: str, **overrides: object):
    factory = causal_lm(config(family, **overrides))
    torch.manual_seed(0)
    return factory, factory()


@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral", "gemma", "qwen3", "gemma3_text", "phi3"])
def test_greedy_with_cache_equals_plaintext(family: str) -> None:
    """Mistral's and Gemma 3's sliding window (4) is shorter than the 10 positions: the public mask applies it."""
    factory, model = _decisive_model(family)
    plain, gaps = plain_greedy(model, PROMPT, 3)
    assert min(gaps) > 0.05, gaps   # decisive: the secure logits err by about 2e-3
    run = generate_run(factory, model.state_dict(), PROMPT, 3)
    assert run.results["client"]["tokens"] == plain


def test_cache_holds_only_the_kv_heads() -> None:
    """Grouped attention: 4 query heads share 2 KV heads; each layer's cache stores (1, 2, positions, 8)."""
    factory, model = _decisive_model("llama")
    shapes: dict = {}

    def setup(party):
        return setup_model(party, factory, model.state_dict())

    def run(party, m):
        from privformers.generation.ids import batch_ids

        cache = SecretCache()
        with torch.no_grad():
            out = m(input_ids=batch_ids(party, [PROMPT]), cache=cache, use_cache=True)
        layer = cache.layers[0]
        assert isinstance(layer.keys, SecretTensor) and layer.keys.held is not None   # held: rows masked once
        assert layer.keys.pending == 0   # rotary's 2f pending bits truncated once, with the values, when stored
        shapes[party.role] = (tuple(layer.keys.shape), tuple(layer.values.shape))
        return greedy_tokens(out.logits.share[:, -1, :])

    result = run_local(Program(run=run, setup=setup)).results[CLIENT]
    assert result == plain_greedy(model, PROMPT, 1)[0] and result is not None
    assert shapes[CLIENT] == ((1, 2, len(PROMPT), 8), (1, 2, len(PROMPT), 8))


def _decode_step(layers: int, kv_heads: int = 2) -> dict:
    factory, model = _decisive_model("llama", num_hidden_layers=layers, num_key_value_heads=kv_heads)
    return generate_run(factory, model.state_dict(), PROMPT, 2).results["client"]["per_token"][1]


def test_decode_step_cost_per_layer_is_pinned() -> None:
    """One layer of a decode step at 8 positions (a 3-level max in softmax): 2 layers minus 1 layer, so the
    embedding, LM head and argmax cancel. Rounds: RMSNorm 7 + its truncation, Q/K/V 1 (one shared input),
    K and V truncated together 1, Q's truncation 1, Q K^T 1, the scores' truncation 1, softmax 23, probs V 1,
    the output projection 1 (its input untruncated), RMSNorm 7 + 1, gate/up 1, SiLU 3, the gated product 1,
    the down projection 1 (untruncated input); the residual sums reach the next norm untruncated. The cached
    keys and values are held (``mpc/protocols/held.py``): the step opens only their new rows."""
    one, two = _decode_step(1), _decode_step(2)
    rounds = two["rounds"] - one["rounds"]
    per_layer_bytes = two["online_bytes"] - one["online_bytes"]
    assert rounds == 52
    assert per_layer_bytes == 14784   # what the client sends (16,576 when every step reopened the cache)


def test_grouped_query_heads_open_each_kv_head_once() -> None:
    """4 query heads on 2 KV heads against 4 on 4: a decode step handles only the KV heads' new key and value
    rows (each opened once, in the held cache, and truncated once), never a copy per query head. Per layer
    the client sends, for the 2 extra KV heads, their new key and value rows' opening and their truncation:
    2 heads x (key + value) x 8 wide x 8 bytes, twice."""
    gqa = _decode_step(2, kv_heads=2)["online_bytes"] - _decode_step(1, kv_heads=2)["online_bytes"]
    mha = _decode_step(2, kv_heads=4)["online_bytes"] - _decode_step(1, kv_heads=4)["online_bytes"]
    width = 8
    assert mha - gqa == 2 * (2 * 2 * width * 8)


def test_a_config_we_do_not_run_fails_before_any_party_connects():
    """The launcher makes a model spec from the public config first (``from_config_dict``, ``from_path``)."""
    from privformers.models.load import from_config_dict
    from privformers.models.random_weights import random_decoder
    from privformers.models.spec import public_config
    from privformers.models.support import UnsupportedConfigError

    data = public_config(random_decoder("llama").config)
    data["rope_parameters"] = {"rope_type": "proportional", "rope_theta": 10000.0}
    with pytest.raises(UnsupportedConfigError, match="rope type 'proportional'"):
        from_config_dict(data)


def test_layer_summary_splits_layers_from_the_head_and_extrapolates() -> None:
    """Decode steps only (the first step holds the prefill); per layer = inside the layers / N; the full model =
    the measured total plus the missing layers at the per-layer cost, marked extrapolated."""
    from privformers.generation.bench import layer_summary

    def party(inside: list[tuple[int, int, float]], steps: list[tuple[float, int, int]], held: int) -> dict:
        rec = [{"layers": {"bytes": b, "rounds": r, "seconds": s}, "forward_seconds": 2 * s} for b, r, s in inside]
        return {"layers": 2, "params": 100, "held_bytes": held, "peak_rss_mb": 1.0,
                "layer_costs": {"online": rec, "offline": rec},
                "per_token": [{"seconds": s, "online_bytes": b, "rounds": r} for s, b, r in steps]}

    steps = [(9.0, 999, 999), (1.0, 300, 50), (1.0, 300, 50)]
    parties = {"client": party([(999, 9, 9.0), (200, 40, 0.6), (200, 40, 0.6)], steps, 800),
               "server": party([(999, 9, 9.0), (100, 40, 0.5), (100, 40, 0.5)], steps, 1200),
               "dealer": party([(0, 0, 9.0), (0, 0, 2.0), (0, 0, 2.0)], [(9.0, 0, 0), (3.0, 0, 0), (3.0, 0, 0)], 0)}
    out = layer_summary(parties, full_layers=32)
    assert out["decode_per_layer"] == {"seconds": 0.3, "online_bytes": 150.0, "rounds": 20.0}
    assert out["decode_head"] == {"seconds": 0.4, "online_bytes": 300.0, "rounds": 10.0}
    assert out["held_bytes_per_param"] == {"server": 12.0, "client": 8.0, "dealer": 0.0}
    full = out["full_model_extrapolated"]
    assert full["extrapolated"] and full["layers"] == 32 and full["rounds_per_token"] == 50 + 30 * 20
    assert full["dealer_seconds_per_token"] == 3.0 + 30 * 1.0
    assert "full_model_extrapolated" not in layer_summary(parties, full_layers=2)


@pytest.mark.slow
def test_bench_generate_llama_reports_layers(capsys: pytest.CaptureFixture) -> None:
    import json

    from privformers.cli import main

    code = main(["bench", "generate", "--arch", "llama", "--size", "tiny", "--random-weights", "--layers", "1",
                 "--prompt-len", "4", "--new-tokens", "2", "--check", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tokens"] == out["plaintext_tokens"]
    assert out["decode_per_layer"]["rounds"] > 0 and out["full_model_extrapolated"]["layers"] == 2
    assert set(out["held_bytes_per_param"]) == {"server", "client", "dealer"}


@pytest.mark.slow
def test_large_untied_lm_head_argmax() -> None:
    """Qwen2's 151,936-token vocabulary (untied head): the secure argmax picks plaintext's token, in 18 halvings
    of 2 rounds, the one-hot's rotation and the opening to the client."""
    factory, model = _decisive_model("qwen2", vocab_size=151936, hidden_size=16, intermediate_size=32,
                                     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                     tie_word_embeddings=False)
    run = generate_run(factory, model.state_dict(), PROMPT, 1)
    assert run.results["client"]["tokens"] == plain_greedy(model, PROMPT, 1)[0]
    assert run.results["client"]["per_token"][0]["classes"]["sampling"]["rounds"] == 2 * 18 + 2
