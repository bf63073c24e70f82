"""``privformers.generation.generate``: one API for every route, GenerationConfig, stop tokens,
padded batches and streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import GenerationConfig

from privformers.generation import GenerationOutput, InProcess, LocalProcesses, MpcOptions, RandomModel, generate
from privformers.models.plain import plain_greedy
from tests.generation.helpers import SPEC, plain_model, save_model

PROMPT = [5, 17, 42, 8]
OTHER = [9, 3, 77, 21, 40, 11]
SHORT = [60, 50]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("api") / "m", SPEC)


def greedy(prompt: list[int], n: int) -> list[int]:
    tokens, gaps = plain_greedy(plain_model(), prompt, n)
    assert min(gaps) > 0.05, gaps   # the MPC error cannot flip these choices
    return tokens


class Recorder:
    """A streamer that keeps what it is given (transformers' ``put``/``end`` protocol)."""

    def __init__(self) -> None:
        self.puts: list[list] = []
        self.ended = False

    def put(self, value) -> None:
        self.puts.append(value.tolist())

    def end(self) -> None:
        self.ended = True


def test_greedy_text_and_ids_equal_plaintext(folder: Path) -> None:
    out = generate(folder, "w5 w17 w42 w8", GenerationConfig(max_new_tokens=3), parties=InProcess())
    assert isinstance(out, GenerationOutput)
    assert out.token_ids == [greedy(PROMPT, 3)]
    assert out.texts == [" ".join(f"w{t}" for t in greedy(PROMPT, 3))]
    assert len(out.cost["per_token"]) == 3 and out.cost["totals"]["rounds"] > 0


def test_a_padded_batch_gives_each_prompt_its_own_tokens(folder: Path) -> None:
    out = generate(folder, [PROMPT, OTHER, SHORT], GenerationConfig(max_new_tokens=3), parties=InProcess())
    assert out.token_ids == [greedy(p, 3) for p in (PROMPT, OTHER, SHORT)]
    assert [(p["rows"], p["width"]) for p in out.cost["passes"]] == [(3, 6)]
    assert len(out.cost["per_prompt"]) == 3 and out.cost["per_prompt"][0]["batch"] == 3


def test_batch_size_splits_passes_and_keeps_input_order(folder: Path) -> None:
    out = generate(folder, [OTHER, PROMPT, SHORT], GenerationConfig(max_new_tokens=2), parties=InProcess(),
                   options=MpcOptions(batch_size=2))
    assert out.token_ids == [greedy(p, 2) for p in (OTHER, PROMPT, SHORT)]
    assert [(p["rows"], p["width"]) for p in out.cost["passes"]] == [(2, 6), (1, 2)]


def test_lengths_public_groups_equal_lengths_instead(folder: Path) -> None:
    out = generate(folder, [OTHER, PROMPT, [1, 2, 3, 4]], GenerationConfig(max_new_tokens=1), parties=InProcess(),
                   options=MpcOptions(lengths_public=True))
    assert sorted((p["rows"], p["width"]) for p in out.cost["passes"]) == [(1, 6), (2, 4)]
    assert out.token_ids[0] == greedy(OTHER, 1)


def test_eos_cuts_the_output_and_stop_early_ends_the_session(folder: Path) -> None:
    ref = greedy(PROMPT, 6)
    eos = ref[2]
    assert eos not in ref[:2]
    config = GenerationConfig(max_new_tokens=6, eos_token_id=eos)
    fixed = generate(folder, PROMPT, config, parties=InProcess())
    assert fixed.token_ids == [ref[:3]] and len(fixed.cost["per_token"]) == 6   # all steps run; the client cuts
    early = generate(folder, PROMPT, config, parties=InProcess(), options=MpcOptions(stop_early=True))
    assert early.token_ids == [ref[:3]] and len(early.cost["per_token"]) == 3   # the session ended there
    random = RandomModel(seed=1, overrides={"initializer_range": 0.2, "eos_token_id": None})   # = SPEC, no eos
    assert generate(random, PROMPT, GenerationConfig(max_new_tokens=2), parties=InProcess()).token_ids == [ref[:2]]
    with pytest.raises(ValueError, match="stop_early needs an eos_token_id"):
        generate(random, PROMPT, GenerationConfig(max_new_tokens=2), parties=InProcess(),
                 options=MpcOptions(stop_early=True))


def test_the_streamer_gets_the_prompt_then_each_token(folder: Path) -> None:
    ref = greedy(PROMPT, 3)
    streamer = Recorder()
    generate(folder, PROMPT, GenerationConfig(max_new_tokens=3), parties=InProcess(), streamer=streamer)
    assert streamer.puts == [[PROMPT], *[[t] for t in ref]] and streamer.ended


def test_the_streamer_through_local_processes(folder: Path) -> None:
    ref = greedy(PROMPT, 2)
    streamer = Recorder()
    out = generate(folder, PROMPT, GenerationConfig(max_new_tokens=2), parties=LocalProcesses(timeout=120),
                   streamer=streamer)
    assert out.token_ids == [ref] and streamer.puts == [[PROMPT], *[[t] for t in ref]] and streamer.ended


@pytest.mark.parametrize("field, value", [("num_beams", 2), ("repetition_penalty", 1.3), ("min_new_tokens", 2),
                                          ("no_repeat_ngram_size", 3)])
def test_an_unsupported_generation_field_is_named(folder: Path, field: str, value: object) -> None:
    config = GenerationConfig(max_new_tokens=2, **{field: value})
    with pytest.raises(ValueError, match=f"not supported in private generation: {field}="):
        generate(folder, PROMPT, config, parties=InProcess())


def test_bad_prompts_are_refused_without_quoting_them(folder: Path) -> None:
    with pytest.raises(ValueError, match=r"prompt 1: token ids must lie in \[0, 101\)") as err:
        generate(folder, [PROMPT, [7, 4242]], GenerationConfig(max_new_tokens=1), parties=InProcess())
    assert "4242" not in str(err.value)
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        generate(folder, [[]], GenerationConfig(max_new_tokens=1), parties=InProcess())
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(folder, PROMPT, GenerationConfig(), parties=InProcess())
    with pytest.raises(ValueError, match="a streamer follows one prompt"):
        generate(folder, [PROMPT, OTHER], GenerationConfig(max_new_tokens=1), parties=InProcess(), streamer=Recorder())


def test_sampling_with_top_k_1_is_greedy_and_top_p_alone_on_a_large_vocabulary_is_refused(folder: Path) -> None:
    """top_k=1 leaves one candidate, so the sampled tokens are the greedy ones (end to end through the
    shuffle, the opened comparisons and the Gumbel tournament); top-p without top-k would sort the
    whole vocabulary every step and is refused with the reason before anything runs."""
    config = GenerationConfig(max_new_tokens=3, do_sample=True, top_k=1, temperature=0.7)
    assert generate(folder, PROMPT, config, parties=InProcess()).token_ids == [greedy(PROMPT, 3)]
    big = RandomModel(overrides={"vocab_size": 8000})
    with pytest.raises(ValueError, match="top_p without top_k sorts all 8000 tokens"):
        generate(big, PROMPT, GenerationConfig(max_new_tokens=1, do_sample=True, top_k=0, top_p=0.9),
                 parties=InProcess())
