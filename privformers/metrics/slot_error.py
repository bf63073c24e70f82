"""Slot error rate (SER) of E2E texts: the MR's slot values missing, wrong or invented, found by patterns.

As E2E papers count it (Dušek et al. 2019, "Semantic Noise Matters"; Juraska et al. 2018), per MR::

    SER = (missing + wrong + added) / (number of slots in the MR)

over the whole corpus (errors summed, then divided by the slots summed), on a 0-100 scale.

How each slot is found in a text (case-insensitive, whole words; ``SLOT_PATTERNS`` holds them):

- ``name`` and ``near``: the value itself, with a leading "The" optional (as for the known names).
  Any restaurant name of the E2E data (``E2E_NAMES``: every ``name`` and ``near`` value of the E2E
  training, development and test sets) in the text that is not the MR's ``name`` or ``near`` counts
  as one added slot per distinct name. Found names are blanked before the other slots are looked for,
  so "Raja Indian Cuisine" is no Indian food and "Café Brazil" no café.
- ``eatType``: coffee shop (also café, coffee house), pub, restaurant. "restaurant" is also the
  generic word for any of them, so it never counts as added nor as wrong.
- ``food``: Chinese, English (also British), French, Indian, Italian, Japanese, Fast food.
- ``priceRange`` and ``customer rating``: E2E uses two scales for each (cheap / less than £20,
  moderate / £20-25, high / more than £30; low / 1 out of 5, average / 3 out of 5, high / 5 out of 5);
  a value is realised by any phrase of its level ("cheap", "low-priced", "less than £20", "affordable";
  "5 out of 5", "highly rated", ...).
- ``area``: city centre (also centre, center, downtown), riverside (also river, waterfront).
- ``familyFriendly``: a mention of family, kids or children is "no" when a negation (not, no, n't,
  non, never, without, adults only) comes in the few words before it, or "not allowed/welcome" after.

A slot of the MR is an error when none of its value's phrases is found (missing; wrong when a phrase
of another value of the slot is found instead) or when a phrase of another value is found too (wrong).
A slot absent from the MR whose phrases are found is added, and so is a delexicalised model's
placeholder left in the text (``XNAME``, ``XFOOD`` ...: the model wrote a slot its prompt lacks).
Patterns miss some paraphrases, so SER is an estimate, as in the papers; human references of the E2E
development set score 9.6 with these patterns (``tests/metrics/test_slot_error.py`` prints it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

E2E_NAMES = (
    # name values
    "Alimentum", "Aromi", "Bibimbap House", "Blue Spice", "Browns Cambridge", "Clowns", "Cocum", "Cotto",
    "Fitzbillies", "Giraffe", "Green Man", "Loch Fyne", "Midsummer House", "Strada", "Taste of Cambridge",
    "The Cambridge Blue", "The Cricketers", "The Dumpling Tree", "The Eagle", "The Golden Curry",
    "The Golden Palace", "The Mill", "The Olive Grove", "The Phoenix", "The Plough", "The Punter",
    "The Rice Boat", "The Twenty Two", "The Vaults", "The Waterman", "The Wrestlers",
    "Travellers Rest Beefeater", "Wildwood", "Zizzi",
    # near values
    "All Bar One", "Avalon", "Burger King", "Café Adriatic", "Café Brazil", "Café Rouge", "Café Sicilia",
    "Clare Hall", "Crowne Plaza Hotel", "Express by Holiday Inn",
    "Rainbow Vegetarian Café", "Raja Indian Cuisine", "Ranch", "The Bakers", "The Portland Arms",
    "The Six Bells", "The Sorrento", "Yippee Noodle Bar",
)

_NEG = r"(?<!not )(?<!not too )(?<!not very )(?<!n't )"
LOW_PRICE = (r"cheap\w*|inexpensive|low[- ]?(?:cost|priced?|prices?|price range)|affordabl[ey]|budget|"
             r"not (?:too |very )?expensive|(?:less than|under|below) £?\s?20\b|price range is low")
MID_PRICE = (r"moderate(?:ly)?|mid[- ]?(?:range|priced?|prices?)|average[- ](?:priced?|prices?)|reasonabl[ey]|"
             r"£\s?20\s?(?:-|–|to)\s?£?\s?25|20-25")
HIGH_PRICE = (_NEG + r"expensive|pricey|pricy|high[- ]?(?:end|priced?|prices?|cost|price range)|highly priced|costly|"
              r"(?:more than|over|above) £?\s?30\b|£\s?30 (?:or|and) (?:more|over|up)|price range is high|"
              r"prices are high|up(?:market|scale)")
LOW_RATING = (r"1 out of 5|one out of five|1[- ]star|one[- ]star|1/5|low(?:ly)?[- ](?:customer |user )?rat\w*|"
              r"rat(?:ed|ings?) (?:is |are |of |as )?(?:very )?low|poor(?:ly)? rat\w*|rated poorly|"
              r"poor (?:customer )?(?:ratings?|reviews?)|low (?:customer )?(?:ratings?|reviews?|scores?)|"
              r"bad (?:ratings?|reviews?)|not (?:very )?(?:well|highly) rated")
MID_RATING = (r"3 out of 5|three out of five|3[- ]stars?|three[- ]stars?|3/5|"
              r"average (?:customer |user )?(?:ratings?|reviews?|scores?)|averagely[- ]rated|"
              r"rat(?:ed|ings?) (?:is |are |of |as )?average|medium[- ]rat\w*|mid(?:dle)?[- ]?rat\w*|"
              r"decent (?:customer )?(?:ratings?|reviews?)|moderate(?:ly)? rat\w*")
HIGH_RATING = (r"5 out of 5|five out of five|5[- ]stars?|five[- ]stars?|5/5|"
               + _NEG + r"high(?:ly)?[- ](?:customer |user )?rat\w*|"
               r"rat(?:ed|ings?) (?:is |are |of |as )?(?:very )?high|"
               r"high (?:customer )?(?:ratings?|reviews?|scores?)|excellent (?:customer )?(?:ratings?|reviews?)|"
               r"top[- ]rated|well[- ]rated|(?:great|good) (?:customer )?(?:ratings?|reviews?)")
SLOT_PATTERNS: dict[str, dict[str, str]] = {
    "eatType": {"coffee shop": r"coffee[- ]?shops?|caf[eé]s?|coffee[- ]?houses?", "pub": r"pubs?",
                "restaurant": r"restaurants?"},
    "food": {"Chinese": "Chinese", "English": "English|British", "French": "French", "Indian": "Indian",
             "Italian": "Italian", "Japanese": "Japanese", "Fast food": r"fast[- ]?food"},
    "priceRange": {"cheap": LOW_PRICE, "less than £20": LOW_PRICE, "moderate": MID_PRICE, "£20-25": MID_PRICE,
                   "high": HIGH_PRICE, "more than £30": HIGH_PRICE},
    "customer rating": {"low": LOW_RATING, "1 out of 5": LOW_RATING, "average": MID_RATING,
                        "3 out of 5": MID_RATING, "high": HIGH_RATING, "5 out of 5": HIGH_RATING},
    "area": {"city centre": r"city[- ]cent(?:re|er)|(?:town|city)[- ]cent(?:re|er)|cent(?:re|er)|downtown|central",
             "riverside": r"riverside|river\w*|waterfront"},
}
GENERIC = {("eatType", "restaurant")}   # a generic word as well as a value: never added nor wrong
FAMILY = re.compile(r"famil(?:y|ies)|kid(?:s|die)?|child(?:ren)?", re.IGNORECASE)
FAMILY_NEGATION = re.compile(r"\b(?:not|no|non|never|nor|without|adults?)\b|n't\b", re.IGNORECASE)
FAMILY_NEGATION_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,2}(?:not|aren't|are not|isn't|no)\b\W*(?:allowed|welcome|permitted)", re.IGNORECASE)
ADULTS_ONLY = re.compile(r"\badults?[- ]only\b", re.IGNORECASE)
_MR_SLOT = re.compile(r"\s*([^,\[\]]+?)\s*\[([^\]]*)\]")


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w£-])(?:{pattern})(?![\w-])", re.IGNORECASE)


def name_pattern(value: str) -> re.Pattern[str]:
    """A restaurant name in running text: case-insensitive, "The" optional, any spacing, "Cafe" for "Café" (and
    "Crown" for "Crowne", a common misspelling in the references)."""
    words = value.split()
    if len(words) > 1 and words[0].lower() == "the":
        words = words[1:]
    body = r"\s+".join(re.escape(w).replace("é", "[eé]").replace("Crowne", "Crowne?") for w in words)
    return re.compile(rf"(?<![\w-])(?:the\s+)?{body}(?!\w)", re.IGNORECASE)


_NAME_PATTERNS = {name: name_pattern(name) for name in sorted(E2E_NAMES, key=len, reverse=True)}
_ANY_NAME = re.compile("|".join(p.pattern for p in _NAME_PATTERNS.values()), re.IGNORECASE)
_COMPILED = {slot: {value: _words(p) for value, p in values.items()} for slot, values in SLOT_PATTERNS.items()}


def parse_mr(mr: str) -> dict[str, str]:
    """An E2E MR as a slot -> value dict (``name[X], area[Y]``; a trailing " =" is ignored)."""
    return {slot.strip(): value.strip() for slot, value in _MR_SLOT.findall(mr)}


@dataclass
class SlotErrors:
    """The slot errors of one text (or a corpus, added up) and the names it gives that its MR does not."""

    slots: int = 0
    missing: int = 0
    wrong: int = 0
    added: int = 0
    other_names: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.missing + self.wrong + self.added

    def __add__(self, other: SlotErrors) -> SlotErrors:
        return SlotErrors(self.slots + other.slots, self.missing + other.missing, self.wrong + other.wrong,
                          self.added + other.added, self.other_names + other.other_names)


def _blank(text: str, pattern: re.Pattern[str]) -> tuple[str, bool]:
    """The text with the pattern's matches replaced by spaces, and whether there was one."""
    found = bool(pattern.search(text))
    return pattern.sub(lambda m: " " * len(m.group(0)), text), found


def _family_mentions(text: str) -> set[str]:
    """The familyFriendly values a text states ("yes", "no")."""
    said = {"no"} if ADULTS_ONLY.search(text) else set()
    for match in FAMILY.finditer(text):
        before = text[max(0, match.start() - 30):match.start()]
        negated = FAMILY_NEGATION.search(" ".join(before.split()[-4:])) is not None
        if negated or FAMILY_NEGATION_AFTER.search(text[match.end():match.end() + 40]):
            said.add("no")
        else:
            said.add("yes")
    return said


LEFTOVER_PLACEHOLDER = re.compile(r"\bX(?:NAME|NEAR|FOOD|EAT)\b")   # privformers.lm.delex's placeholders


def slot_errors(mr: str | dict[str, str], text: str) -> SlotErrors:
    """Missing, wrong and added slot values of one text against its E2E MR (see the module's patterns)."""
    slots = parse_mr(mr) if isinstance(mr, str) else dict(mr)
    result = SlotErrors(slots=len(slots))
    own = {slots[s] for s in ("name", "near") if s in slots}
    for slot in ("name", "near"):
        if slot in slots:
            text, found = _blank(text, name_pattern(slots[slot]))
            result.missing += not found
    for match in _ANY_NAME.finditer(text):   # one pass for all names, then which name it was
        name = next(n for n, p in _NAME_PATTERNS.items() if p.fullmatch(match.group(0)))
        if name not in own and name not in result.other_names:
            result.other_names.append(name)
    for name in result.other_names:
        text, _ = _blank(text, _NAME_PATTERNS[name])
    result.added += len(result.other_names)
    # a delexicalised model's placeholder left in the text (its slot was not in the prompt): an invented slot
    result.added += len(set(LEFTOVER_PLACEHOLDER.findall(text)))
    for slot, values in _COMPILED.items():
        said = {v for v, p in values.items() if p.search(text)}
        given = slots.get(slot)
        if given is None:
            result.added += any((slot, v) not in GENERIC for v in said)
            continue
        level = SLOT_PATTERNS[slot].get(given)
        same = {v for v in said if SLOT_PATTERNS[slot][v] == level}
        others = {v for v in said - same if (slot, v) not in GENERIC}
        if not same:
            if level is None and given.lower() in text.lower():   # a value we have no pattern for, said as is
                continue
            if others:
                result.wrong += 1
            else:
                result.missing += 1
        elif others:
            result.wrong += 1
    if "familyFriendly" in slots or FAMILY.search(text):
        said = _family_mentions(text)
        given = slots.get("familyFriendly")
        if given is None:
            result.added += bool(said)
        elif given not in said:
            result.wrong += bool(said)
            result.missing += not said
    return result


def corpus_slot_errors(sources: Sequence[str], hypotheses: Sequence[str]) -> SlotErrors:
    """Slot errors of every hypothesis against its MR, added up."""
    if len(sources) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(sources)} MRs")
    total = SlotErrors()
    for mr, text in zip(sources, hypotheses):
        total = total + slot_errors(mr, text)
    return total


def slot_error_rate(sources: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus SER on a 0-100 scale: all errors over all MR slots."""
    total = corpus_slot_errors(sources, hypotheses)
    return 100.0 * total.errors / max(total.slots, 1)


def texts_naming_other_restaurants(sources: Sequence[str], hypotheses: Sequence[str]) -> int:
    """How many texts name an E2E restaurant that is neither their MR's ``name`` nor its ``near``."""
    return sum(bool(slot_errors(mr, text).other_names) for mr, text in zip(sources, hypotheses))
