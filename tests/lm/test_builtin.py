"""The shipped built-in E2E model: present, small, loadable, copies a restaurant name it never saw, and
(slow) its scores on the two held-out tests of its model card: unseen names and unseen MRs."""

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from privformers.lm import builtin_model_path, generate_texts
from privformers.lm.delex import load_delex
from privformers.metrics import slot_errors

MAX_BYTES = 20 * 1024 * 1024
DEMO_MR = "name[Blue Spice], eatType[coffee shop], food[French], priceRange[cheap], area[riverside]"   # make demo's


def test_builtin_model_loads_and_copies_an_unseen_name():
    try:
        path = builtin_model_path()
    except FileNotFoundError as exc:  # the model lands with the data branch's training run
        pytest.skip(str(exc))
    assert sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) < MAX_BYTES
    assert (path / "MODEL_CARD.md").is_file()
    assert set(load_delex(path).slots) == {"name", "near", "food", "eatType"}
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "gpt2" and model.config.vocab_size == len(tokenizer)
    [text] = generate_texts(model, tokenizer, [DEMO_MR], progress=False)
    errors = slot_errors(DEMO_MR, text)
    assert "Blue Spice" in text and errors.errors == 0, (text, errors)


NO_FOOD_MR = ("name[The Cambridge Blue], eatType[coffee shop], customer rating[1 out of 5], area[riverside], "
              "familyFriendly[yes], near[Burger King]")


def test_builtin_model_writes_no_placeholder_of_a_slot_its_mr_lacks():
    """The delexicalised model tends to write "serves XFOOD food" for an MR without food; generation
    suppresses the placeholders of absent slots (as the MPC client does, in its own share)."""
    from privformers.lm.delex import absent_placeholder_ids
    from privformers.lm.generate import greedy_continue
    from privformers.lm.prompt import format_prompt

    path = builtin_model_path()
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    delex = load_delex(path)
    prompt = delex.prompt(NO_FOOD_MR)
    [banned] = absent_placeholder_ids(delex, tokenizer, [prompt.mapping])
    assert banned and all("XFOOD" in tokenizer.decode([t]) for t in banned)
    ids = tokenizer(format_prompt(prompt.text), add_special_tokens=False)["input_ids"]
    # negative control: without the suppression this MR gets a food placeholder
    assert "XFOOD" in tokenizer.decode(greedy_continue(model, ids, tokenizer.eos_token_id, 60))
    [text] = generate_texts(model, tokenizer, [NO_FOOD_MR], progress=False)
    assert "XFOOD" not in text and slot_errors(NO_FOOD_MR, text).added == 0, text


def devset() -> Path:
    repo = Path(__file__).resolve().parents[2]
    found = next((p for p in (repo.parent / "shared/data/e2e/devset.csv", Path("/work/shared/data/e2e/devset.csv"))
                  if p.is_file()), None)
    if found is None:
        pytest.skip("shared E2E dev set not found (../shared/data/e2e/devset.csv)")
    return found


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 33's bars are not met yet: BLEU 59.96 (>= 60) and SER 6.13 (<= 5) "
                                       "measured 2026-12-07 (model card); strict, so meeting them flags this")
def test_builtin_model_on_unseen_names():
    """The name split's test (3 restaurants, 73 MRs the model never saw, nor their names): BLEU >= 60,
    SER <= 5 and no text names a restaurant other than its MR's name and near."""
    from privformers.lm.evaluate import evaluate_generation

    result = evaluate_generation(builtin_model_path(), devset(), metrics=("bleu", "ser", "other-names"),
                                 split_by="name")
    print(result.scores)
    assert result.sources == 73
    assert result.scores["other-names"] == 0
    assert result.scores["bleu"] >= 60 and result.scores["ser"] <= 5


@pytest.mark.slow
def test_builtin_model_on_held_out_mrs():
    """The MR split's test (55 MRs the model never saw; their names it did)."""
    from privformers.lm.evaluate import evaluate_generation

    result = evaluate_generation(builtin_model_path(), devset(), metrics=("bleu", "ser", "other-names"))
    print(result.scores)
    assert result.sources == 55
    assert result.scores["bleu"] >= 60 and result.scores["other-names"] == 0


def test_builtin_llama_loads_and_copies_an_unseen_name():
    """The Llama-architecture built-in model (``train-lm --arch llama``): small, shipped with its card and
    delexicalisation, grouped-query attention with tied embeddings, and it names a restaurant it never saw."""
    try:
        path = builtin_model_path("llama")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    assert sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) < MAX_BYTES
    assert (path / "MODEL_CARD.md").is_file()
    assert set(load_delex(path).slots) == {"name", "near", "food", "eatType"}
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = model.config
    assert config.model_type == "llama" and config.vocab_size == len(tokenizer) and config.tie_word_embeddings
    assert config.num_key_value_heads < config.num_attention_heads
    [text] = generate_texts(model, tokenizer, [DEMO_MR], progress=False)
    assert "Blue Spice" in text, text


def test_builtin_model_path_names_the_architectures():
    with pytest.raises(ValueError, match="no built-in model of architecture 'bert'"):
        builtin_model_path("bert")


@pytest.mark.slow
@pytest.mark.parametrize("split_by, sources", [
    pytest.param("name", 73, marks=pytest.mark.xfail(strict=True, reason="SER 5.42 > 5 on unseen restaurants, "
                                                                          "measured 2026-12-07 (model card)")),
    ("mr", 55)])
def test_builtin_llama_on_held_out_tests(split_by, sources):
    """The Llama model on both held-out tests of its card (it was trained on neither, ``--split-by name+mr``):
    unseen restaurant names, and unseen MRs. BLEU >= 60, SER <= 5, no text names another restaurant."""
    from privformers.lm.evaluate import evaluate_generation

    try:
        path = builtin_model_path("llama")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    result = evaluate_generation(path, devset(), metrics=("bleu", "ser", "other-names"), split_by=split_by)
    print(split_by, result.scores)
    assert result.sources == sources and result.scores["other-names"] == 0
    assert result.scores["bleu"] >= 60 and result.scores["ser"] <= 5
