"""The shipped built-in E2E model: present, small, loadable, and (slow) BLEU >= 45 on the held-out MRs."""

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from privformers.lm import builtin_model_path, generate_texts

MAX_BYTES = 20 * 1024 * 1024


def test_builtin_model_loads_and_generates():
    try:
        path = builtin_model_path()
    except FileNotFoundError as exc:  # the model lands with the data branch's training run
        pytest.skip(str(exc))
    assert sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) < MAX_BYTES
    assert (path / "MODEL_CARD.md").is_file()
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "gpt2" and model.config.vocab_size == len(tokenizer)
    [text] = generate_texts(
        model, tokenizer, ["name[The Eagle], eatType[coffee shop], area[riverside]"], progress=False
    )
    assert "The Eagle" in text


@pytest.mark.slow
def test_builtin_model_bleu_on_held_out_mrs():
    repo = Path(__file__).resolve().parents[2]
    devset = next(
        (
            p
            for p in (repo.parent / "shared/data/e2e/devset.csv", Path("/work/shared/data/e2e/devset.csv"))
            if p.is_file()
        ),
        None,
    )
    if devset is None:
        pytest.skip("shared E2E dev set not found (../shared/data/e2e/devset.csv)")
    from privformers.data.evaluate import evaluate_generation

    result = evaluate_generation(builtin_model_path(), devset, metrics=("bleu",))
    assert result.sources == 55
    assert result.scores["bleu"] >= 45
