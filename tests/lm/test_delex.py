"""Delexicalisation: placeholders in prompts and training texts, the values put back after decoding."""

from __future__ import annotations

import json

import pytest

from privformers.lm.delex import DELEX_FILE, Delexicaliser, client_prompts, load_delex, relexicalise
from tests.delex_helpers import UNSEEN

FOUR = Delexicaliser.for_slots(["name", "near", "food", "eatType"])


def test_prompt_replaces_the_values_of_its_slots_and_keeps_the_rest():
    out = FOUR.prompt("name[Blue Spice], eatType[coffee shop], food[French], area[riverside], near[Avalon] =")
    assert out.text == "name[XNAME], eatType[XEAT], food[XFOOD], area[riverside], near[XNEAR] ="
    assert out.mapping == {"XNAME": "Blue Spice", "XEAT": "coffee shop", "XFOOD": "French", "XNEAR": "Avalon"}
    assert Delexicaliser.for_slots(["name"]).prompt("area[riverside] =").mapping == {}


def test_target_finds_case_variants_possessives_an_optional_the_and_known_spellings():
    mr = FOUR.prompt("name[The Eagle], eatType[coffee shop], food[English], near[Crowne Plaza Hotel]")
    text = ("The Eagle is a café near the Crown Plaza Hotel. the eagle's British food; at the Eagle, "
            "near Crowne Plaza, a Coffee Shop")
    assert FOUR.target(text, mr.mapping) == ("XNAME is a XEAT near the XNEAR. XNAME's XFOOD food; at XNAME, "
                                             "near XNEAR, a XEAT")


def test_names_are_replaced_before_other_slots():
    mr = FOUR.prompt("name[Aromi], eatType[coffee shop], near[Café Brazil]")
    assert FOUR.target("Aromi is a café near Café Brazil.", mr.mapping) == "XNAME is a XEAT near XNEAR."


def test_relexicalise_puts_values_back_without_doubled_words():
    mapping = {"XNAME": "The Vaults", "XFOOD": "Fast food", "XNEAR": "Crowne Plaza Hotel", "XEAT": "pub"}
    text = "the XNAME is a XEAT serving XFOOD food near the XNEAR Hotel. XNAME's"
    assert relexicalise(text, mapping) == ("The Vaults is a pub serving Fast food near the Crowne Plaza Hotel. "
                                           "The Vaults's")
    assert relexicalise("XNAME near XNEAR", {"XNAME": "Zizzi"}) == "Zizzi near XNEAR"   # nothing to put back


def test_unknown_slots_are_refused():
    with pytest.raises(ValueError, match="cannot delexicalise priceRange"):
        Delexicaliser.for_slots(["name", "priceRange"])


def test_the_model_folder_records_it(tmp_path):
    assert load_delex(tmp_path) is None and load_delex(None) is None
    FOUR.save(tmp_path)
    assert load_delex(tmp_path) == FOUR
    (tmp_path / DELEX_FILE).write_text(json.dumps({"slots": ["name"]}))
    with pytest.raises(ValueError, match="expected"):
        load_delex(tmp_path)


def test_client_prompts_delexicalise_texts_and_pass_ids_through(tmp_path):
    FOUR.save(tmp_path)
    assert client_prompts(tmp_path, [1, 2, 3]) == ([1, 2, 3], None)
    assert client_prompts(tmp_path / "none", "name[A] =") == ("name[A] =", None)
    text, mappings = client_prompts(tmp_path, "name[A] =")
    assert (text, mappings) == ("name[XNAME] =", [{"XNAME": "A"}])
    texts, mappings = client_prompts(tmp_path, ["name[A] =", "near[B] ="])
    assert texts == ["name[XNAME] =", "near[XNEAR] ="] and mappings == [{"XNAME": "A"}, {"XNEAR": "B"}]


def test_a_delexicalised_model_copies_a_name_it_never_saw(tiny_delex_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from privformers.lm import generate_texts

    assert load_delex(tiny_delex_model) == Delexicaliser.for_slots(["name"])
    assert json.loads((tiny_delex_model / "training_args.json").read_text())["config"]["delex"] == ["name"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_delex_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_delex_model)
    [text] = generate_texts(model, tokenizer, [UNSEEN], max_new_tokens=4, progress=False)
    assert text.startswith("Blue Spice is"), text
    [raw] = generate_texts(model, tokenizer, [UNSEEN], max_new_tokens=4, progress=False,
                           delex=Delexicaliser.for_slots(["near"]))   # the name itself, not a placeholder
    assert "Blue Spice" not in raw
