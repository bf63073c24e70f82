"""Student checkpoints: save_pretrained plus the recipe; loading re-applies it, into plaintext and MPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from privformers.approx import RECIPE_FILE, approximate, load_student, read_recipe, recipe_of, save_student
from privformers.generation import generate_run
from privformers.models.load import from_path
from privformers.models.plain import plain_greedy
from privformers.secure.runtime import secure_run
from tests.approx.families import FAMILIES, seeded


def _perturb(model: torch.nn.Module) -> torch.nn.Module:
    """Change every parameter, as distillation would (so a load that skips one is caught)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("recipe", ["thex", "merge"])
def test_round_trip_in_plaintext(tmp_path: Path, family: str, recipe: str) -> None:
    overrides = {"merge": "masked"} if recipe == "merge" else {}  # the non-default variant must round-trip too
    student = _perturb(approximate(seeded(family), recipe, **overrides)).eval()
    folder = save_student(student, tmp_path / "s")
    assert (folder / "config.json").is_file() and json.loads((folder / RECIPE_FILE).read_text())["name"] == recipe
    assert read_recipe(folder) == recipe_of(student)
    loaded = load_student(folder)
    assert recipe_of(loaded) == recipe_of(student) and type(loaded) is type(student)
    inputs = FAMILIES[family][1]
    with torch.no_grad():
        assert torch.equal(loaded(**inputs).logits, student(**inputs).logits)


def test_unconverted_folder_has_no_recipe(tmp_path: Path) -> None:
    folder = save_student(seeded("gpt2"), tmp_path / "t")
    assert not (folder / RECIPE_FILE).exists() and read_recipe(folder) is None and from_path(folder).recipe is None


def test_bad_recipe_file(tmp_path: Path) -> None:
    folder = save_student(approximate(seeded("gpt2"), "thex"), tmp_path / "s")
    (folder / RECIPE_FILE).write_text(json.dumps({"name": "x", "softmax": "exp"}))
    with pytest.raises(ValueError, match="bad recipe file"):
        read_recipe(folder)


def test_classifier_student_into_mpc(tmp_path: Path) -> None:
    """The classification path: a BERT student folder runs under MPC with its recipe, no manual step."""
    student = _perturb(approximate(seeded("bert"), "mpcformer-quad-2quad")).eval()
    folder = save_student(student, tmp_path / "cls")
    spec = from_path(folder)
    assert spec.recipe == recipe_of(student)
    inputs = FAMILIES["bert"][1]
    with torch.no_grad():
        ref = student(**inputs).logits.double()
    got = secure_run(spec.factory, spec.weights(), **inputs).results["client"]
    assert got.shape == ref.shape and (got - ref).abs().max() < 1e-2


def test_generation_student_into_mpc(tmp_path: Path) -> None:
    """A GPT-2 student with ER + MM generates under MPC from its folder as its plaintext ER decoding."""
    torch.manual_seed(6)
    student = approximate(seeded("gpt2", 6), "merge")
    folder = save_student(student, tmp_path / "gen")
    spec = from_path(folder)
    prompt = [5, 17, 42, 8]
    ref, _ = plain_greedy(load_student(folder), prompt, 2)
    assert generate_run(spec.factory, spec.weights, prompt, 2).results["client"]["tokens"] == ref


@pytest.mark.slow
def test_cli_generates_with_a_student_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``privformers generate --model STUDENT`` (three processes) re-applies the recipe by itself."""
    from privformers.cli import main

    folder = save_student(approximate(seeded("gpt2", 6), "merge"), tmp_path / "gen")
    code = main(["generate", "--model", str(folder), "--prompt-ids", "5,17,42,8", "--max-new-tokens", "2", "--json",
                 "--check"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tokens"] == out["plaintext_tokens"] and len(out["per_token"]) == 2
    assert out["final"]["rounds"] > 0 and out["breakdown"]["softmax"]["online_bytes"] == 0
