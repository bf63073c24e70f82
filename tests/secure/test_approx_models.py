"""Converted models (every recipe, the four families) under MPC against their plaintext logits."""

from __future__ import annotations

import pytest

from privformers.approx import approximate
from tests.approx.families import FAMILIES
from tests.secure.helpers import compare_run

CASES = [("gpt2", r) for r in ("mpcformer-quad-2quad", "mpcformer-quad-2relu", "thex", "merge-mm")] + [
    ("bert", "mpcformer-quad-2quad"), ("roberta", "merge-mm"), ("bart", "merge"), ("t5", "thex"),
    *[pytest.param(f, r, marks=pytest.mark.slow) for f, r in (
        ("bert", "merge-mm"), ("roberta", "thex"), ("roberta", "mpcformer-quad-2relu"),
        ("bart", "mpcformer-quad-2quad"), ("bart", "thex"), ("t5", "merge-mm"), ("t5", "mpcformer-quad-2relu"))],
]


@pytest.mark.parametrize("family,recipe", CASES)
def test_converted_logits_match_plaintext(family: str, recipe: str) -> None:
    factory, inputs = FAMILIES[family]
    err, run = compare_run(lambda: approximate(factory(), recipe, inplace=True), **inputs)
    print(f"{family} {recipe}: logits max abs error {err:.2e}")
    assert err <= 1e-2
    bd = run.meters["client"].summary()["breakdown"]
    if recipe.startswith("merge"):
        assert bd["softmax"]["online_bytes"] == 0  # no softmax left: the weights are the server's
    else:
        assert bd["softmax"]["online_bytes"] > 0
