"""``bench generate --method``: the recipe reaches every party's model; lengths checked against M."""

from __future__ import annotations

import json

import pytest

from privformers.approx import MergeModule, get_recipe
from privformers.generation.bench import METHODS
from privformers.models.load import from_args
from privformers.models.random_weights import random_gpt2
from privformers.models.spec import PromptTooLongError, check_length


def test_methods_name_recipes() -> None:
    assert METHODS["vanilla"] is None and METHODS["mpcformer"] == "mpcformer-quad-2quad"
    assert {"thex", "merge-er", "merge-mm", "merge", "merge-quad-affine"} <= set(METHODS)


def test_recipe_reaches_the_parties_models() -> None:
    spec = from_args({"arch": "gpt2", "size": "tiny", "seed": 0, "recipe": "merge"})
    assert spec.recipe.name == "merge"
    model = spec.factory()
    assert sum(isinstance(m, MergeModule) for m in model.modules()) == 2
    model.load_state_dict(spec.weights())  # the random weights are converted the same way
    assert from_args({"arch": "gpt2", "size": "tiny"}).recipe is None


def test_length_checked_against_the_merge_module() -> None:
    spec = random_gpt2("tiny", 0, get_recipe("merge", merge_max_len=16))
    check_length(spec, 8, 8)
    with pytest.raises(PromptTooLongError, match="Merge Module"):
        check_length(spec, 12, 8)


@pytest.mark.slow
def test_bench_generate_merge_processes(capsys: pytest.CaptureFixture) -> None:
    from privformers.cli import main

    code = main(["bench", "generate", "--size", "tiny", "--random-weights", "--layers", "1", "--prompt-len", "4",
                 "--new-tokens", "2", "--method", "merge", "--check", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tokens"] == out["plaintext_tokens"] and out["meta"]["method"] == "merge"
    assert out["breakdown"]["softmax"]["online_bytes"] == 0 and out["final"]["rounds"] > 0
