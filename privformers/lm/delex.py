"""Delexicalisation: slot values become placeholders for the model, and go back into its text afterwards.

A model that learns names from its training texts writes those names for restaurants it has never
seen. Trained on delexicalised data (``name[XNAME], near[XNEAR] = XNAME is a coffee shop near XNEAR``)
it learns to copy a placeholder instead; the client puts the prompt's values back into the decoded text.
This is the usual E2E practice (e.g. Dušek and Jurčíček 2016; Juraska et al. 2018).

Which slots are delexicalised is part of the model: ``train-lm --delex`` writes them to
``privformers_delex.json`` next to the weights, and every consumer reads it from the model folder
(``load_delex``): ``generate_texts``, ``evaluate`` (plaintext and ``--mpc``), ``privformers generate`` and
the Python API ``privformers.generation.generate``. Only the client uses it: a delexicalised prompt is
still the client's secret, and the values (``Delexicalisation.mapping``) never leave the client.

In training texts a value is found whatever its case, without a leading "The" (and with a "the" before
it absorbed: "at the Eagle" -> "at XNAME"), and in a few spellings the E2E references use
(``VARIANTS``: "Crown Plaza Hotel", "British" for English food); possessives ("XNAME's") follow from
replacing the value inside the word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DELEX_FILE = "privformers_delex.json"
PLACEHOLDERS = {"name": "XNAME", "near": "XNEAR", "food": "XFOOD", "eatType": "XEAT"}
# other spellings of E2E values in the references (matched in training texts only)
VARIANTS = {
    "Crowne Plaza Hotel": ("Crown Plaza Hotel", "Crowne Plaza", "Crown Plaza"),
    "English": ("British",),
    "coffee shop": ("coffee-shop", "coffeeshop", "coffee house", "café", "cafe"),
    "Café Sicilia": ("Cafe Sicilia",),
    "Café Brazil": ("Cafe Brazil",),
    "Raja Indian Cuisine": ("Raja Cuisine",),
}
_SLOT = re.compile(r"(^|,)(\s*)([^,\[\]]+?)(\s*\[)([^\]]*)(\])")


@dataclass(frozen=True)
class Delexicalisation:
    """One prompt's placeholders and the values they stand for (the client's secret)."""

    text: str
    mapping: dict[str, str] = field(default_factory=dict)


def _value_pattern(value: str) -> re.Pattern[str]:
    """A case-insensitive pattern for a value in running text (its variants, "The" optional)."""
    forms = set()
    for form in (value, *VARIANTS.get(value, ())):
        words = form.split()
        if len(words) > 1 and words[0].lower() == "the":
            forms.add(r"(?:\bthe\s+)?" + r"\s+".join(map(re.escape, words[1:])))
        else:
            forms.add(r"\s+".join(map(re.escape, words)))
    alternatives = "|".join(sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Delexicaliser:
    """Replaces the values of some slots by placeholders (``slots``: slot name -> placeholder)."""

    slots: dict[str, str]

    @classmethod
    def for_slots(cls, names: list[str] | tuple[str, ...]) -> Delexicaliser:
        """The standard placeholders (``PLACEHOLDERS``) of the named slots; ValueError for others."""
        unknown = [n for n in names if n not in PLACEHOLDERS]
        if unknown:
            raise ValueError(f"cannot delexicalise {', '.join(unknown)}; choose from {', '.join(PLACEHOLDERS)}")
        return cls({n: PLACEHOLDERS[n] for n in names})

    def prompt(self, text: str) -> Delexicalisation:
        """Replace each delexicalised slot's value in an MR or prompt (``name[Blue Spice], ... =``) by its
        placeholder; the mapping (placeholder -> value) is what ``relexicalise`` needs."""
        mapping: dict[str, str] = {}

        def swap(match: re.Match[str]) -> str:
            lead, space, slot, open_, value, close = match.groups()
            placeholder = self.slots.get(slot.strip())
            if placeholder is None or not value.strip():
                return match.group(0)
            mapping[placeholder] = value.strip()
            return f"{lead}{space}{slot}{open_}{placeholder}{close}"

        return Delexicalisation(_SLOT.sub(swap, text), mapping)

    def target(self, text: str, mapping: dict[str, str]) -> str:
        """A training reference with the MR's values replaced by their placeholders: names first (so that
        "Café Brazil" is a name, not a café), longer values before shorter ones."""
        names = {self.slots.get("name"), self.slots.get("near")}
        for placeholder, value in sorted(mapping.items(), key=lambda kv: (kv[0] not in names, -len(kv[1]))):
            text = _value_pattern(value).sub(placeholder, text)
        return text

    def to_json(self) -> dict:
        return {"slots": dict(self.slots)}

    def save(self, folder: str | Path) -> None:
        """Write ``privformers_delex.json`` into a model folder (next to ``config.json``)."""
        (Path(folder) / DELEX_FILE).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def relexicalise(text: str, mapping: dict[str, str]) -> str:
    """Put the values back: each placeholder becomes its value ("the XNAME" with a value that starts with
    "The" loses the extra article; "XFOOD food" with "Fast food" is not doubled). A placeholder with no
    value in the mapping (the model wrote a slot the prompt does not have) stays as it is."""
    for placeholder, value in mapping.items():
        if value.lower().startswith("the "):
            text = re.sub(rf"\b[Tt]he\s+{placeholder}", value, text)
        last = value.split()[-1]
        if len(value.split()) > 1:
            text = re.sub(rf"{placeholder}\s+{re.escape(last)}\b", value, text, flags=re.IGNORECASE)
        text = text.replace(placeholder, value)
    return text


def load_delex(folder: str | Path | None) -> Delexicaliser | None:
    """The delexicalisation a model folder records (None when it records none, or there is no folder)."""
    if folder is None or not str(folder):
        return None
    path = Path(folder) / DELEX_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    slots = data.get("slots") if isinstance(data, dict) else None
    if not isinstance(slots, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                              for k, v in slots.items()):
        raise ValueError(f"{path}: expected {{\"slots\": {{slot: placeholder, ...}}}}")
    return Delexicaliser(dict(slots))


def client_prompts(folder: str | Path | None, prompts: object) -> tuple[object, list[dict[str, str]] | None]:
    """The client's side of a delexicalised model, before tokenizing: text prompts (one or a list) with
    placeholders for the values, and each prompt's mapping for ``relexicalise`` (None when the model folder
    records no delexicalisation or the prompts are token ids, which are passed through unchanged)."""
    delex = load_delex(folder)
    if delex is None or not (isinstance(prompts, str) or
                             (isinstance(prompts, (list, tuple)) and prompts and
                              all(isinstance(p, str) for p in prompts))):
        return prompts, None
    done = [delex.prompt(p) for p in ([prompts] if isinstance(prompts, str) else prompts)]
    texts = [d.text for d in done]
    return (texts[0] if isinstance(prompts, str) else texts), [d.mapping for d in done]


def placeholder_token_ids(tokenizer: Any, placeholders: Collection[str]) -> dict[str, list[int]]:
    """Per placeholder, the ids of the tokenizer's tokens whose text holds it (`` XFOOD``, ``XFOOD`` ...): what
    a model must not write when its prompt lacks that slot. Cost: one decode per vocabulary entry."""
    found: dict[str, list[int]] = {p: [] for p in placeholders}
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        for placeholder in placeholders:
            if placeholder in text:
                found[placeholder].append(token_id)
    return found


def absent_placeholder_ids(delex: Delexicaliser | str | Path | None, tokenizer: Any,
                           mappings: Sequence[dict[str, str]]) -> list[list[int]] | None:
    """Per prompt (its ``Delexicalisation.mapping``), the token ids of the placeholders whose slot it lacks:
    a delexicalised model that wrote one would leave it in the text (an invented slot), so generation
    suppresses them (``suppress``; under MPC the lists are the client's secret). ``delex``: a Delexicaliser or
    a model folder; None when it records no delexicalisation or there is no tokenizer."""
    if not isinstance(delex, Delexicaliser):
        delex = load_delex(delex)
    if delex is None or tokenizer is None:
        return None
    ids = placeholder_token_ids(tokenizer, tuple(delex.slots.values()))
    return [sorted({t for p, found in ids.items() if p not in mapping for t in found}) for mapping in mappings]

