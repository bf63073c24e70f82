"""Slot error rate: missing, wrong and invented slot values of E2E texts, found by patterns."""

from __future__ import annotations

import pytest

from privformers.metrics import compute_metrics, slot_error_rate, slot_errors, texts_naming_other_restaurants

MR = ("name[Blue Spice], eatType[coffee shop], food[French], priceRange[cheap], customer rating[5 out of 5], "
      "area[riverside], familyFriendly[no], near[Avalon]")
GOOD = ("Blue Spice is a cheap coffee shop serving French food by the riverside near Avalon. It is rated 5 out of 5 "
        "and is not family-friendly.")


def counts(mr: str, text: str) -> tuple[int, int, int, list[str]]:
    e = slot_errors(mr, text)
    return e.missing, e.wrong, e.added, e.other_names


def test_a_text_that_says_every_slot_has_no_error():
    assert counts(MR, GOOD) == (0, 0, 0, [])
    assert slot_errors(MR, GOOD).slots == 8
    assert slot_error_rate([MR], [GOOD]) == 0.0


def test_paraphrases_of_each_level_count_as_said():
    text = ("Near the Avalon, Blue Spice, an inexpensive café on the river, serves French dishes; highly rated, "
            "but children are not welcome.")
    assert counts(MR, text) == (0, 0, 0, [])


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace("near Avalon", "near Clowns"), (1, 0, 1, ["Clowns"])),               # near missing, a name added
    (GOOD.replace("French", "English"), (0, 1, 0, [])),                               # wrong food
    (GOOD.replace("cheap", "expensive"), (0, 1, 0, [])),                              # wrong price level
    (GOOD.replace("is not family-friendly", "is family-friendly"), (0, 1, 0, [])),    # polarity
    (GOOD.replace(" and is not family-friendly", ""), (1, 0, 0, [])),                 # missing
    (GOOD.replace("Blue Spice", "The Eagle"), (1, 0, 1, ["The Eagle"])),               # another restaurant's name
])
def test_errors(text, expected):
    assert counts(MR, text) == expected


def test_slots_absent_from_the_mr_are_added_when_said():
    mr = "name[Blue Spice], area[riverside]"
    assert counts(mr, "Blue Spice is a riverside pub with Italian food, good for kids.") == (0, 0, 3, [])
    assert counts(mr, "Blue Spice is a restaurant by the river.") == (0, 0, 0, [])   # "restaurant" is generic


def test_names_are_not_read_as_other_slots():
    mr = "name[Cocum], area[city centre], near[Raja Indian Cuisine]"
    assert counts(mr, "Cocum is in the city centre near Raja Indian Cuisine.") == (0, 0, 0, [])
    mr = "name[Aromi], near[Crowne Plaza Hotel]"
    assert counts(mr, "Aromi is near the Crown Plaza Hotel.") == (0, 0, 0, [])


def test_other_restaurant_count_and_the_suite():
    assert texts_naming_other_restaurants([MR, MR], [GOOD, GOOD.replace("Avalon", "Zizzi")]) == 1
    scores, unavailable = compute_metrics([GOOD], [[GOOD]], ("bleu", "ser", "other-names"), sources=[MR])
    assert scores["ser"] == 0.0 and scores["other-names"] == 0.0 and not unavailable
    _, unavailable = compute_metrics([GOOD], [[GOOD]], ("ser",))
    assert "meaning representations" in unavailable["ser"]
    _, unavailable = compute_metrics(["a"], [["a"]], ("ser",), sources=["a table of numbers"])
    assert "not E2E" in unavailable["ser"]


def test_human_references_of_the_e2e_devset(shared_data):
    """The patterns on the references themselves: human texts omit slots (most errors are omissions) and
    name no other restaurant save a handful. The module docstring quotes this number."""
    from privformers.data.e2e import read_e2e

    pairs = read_e2e(shared_data / "e2e" / "devset.csv")
    sources, texts = [p.source for p in pairs], [p.target for p in pairs]
    ser = slot_error_rate(sources, texts)
    others = texts_naming_other_restaurants(sources, texts)
    print(f"E2E devset references: SER {ser:.2f}, {others} of {len(texts)} name another restaurant")
    assert 5 < ser < 15 and others <= 10


def test_a_leftover_placeholder_is_an_invented_slot() -> None:
    mr = "name[Blue Spice], eatType[coffee shop], area[riverside]"
    good = "Blue Spice is a coffee shop in the riverside area."
    assert slot_errors(mr, good).errors == 0
    assert slot_errors(mr, "Blue Spice is a coffee shop serving XFOOD food in the riverside area.").added == 1
