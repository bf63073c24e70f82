"""Argument checks shared by every command: argparse ``type=`` validators, the usage-error exit, strict JSON
(``strict_json``, from ``privformers.jsonout``, re-exported for the commands).

A bad option is refused while the command line is parsed, before any model loads or any party
process starts: argparse prints the usage and one line ``privformers CMD: error: argument --X: ...``
and exits with status 2. Checks that need more than one option, or a file, call ``usage_error``,
which ends the same way.

Validators that read secret text (a prompt, a text to classify, token ids) never repeat the value in
their message: they say what is wrong and where (an item's position), nothing of the content.

This module imports only the standard library (and ``privformers.jsonout``): ``privformers --help`` must
stay fast.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Collection
from typing import NoReturn

from privformers.jsonout import finite_or_none as finite_or_none  # re-exported for the commands
from privformers.jsonout import strict_json as strict_json


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _float(text: str, what: str) -> float:
    """A finite float (NaN and infinities are refused: no option of ours means anything with them)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (counts, sizes, steps, threads)."""
    value = _int(text, "a whole number >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (0 meaning none or off)."""
    value = _int(text, "a whole number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite number."""
    return _float(text, "a finite number")


def positive_float(text: str) -> float:
    """A finite number > 0 (timeouts, learning rates, norms, sizes in MB, days)."""
    value = _float(text, "a finite number > 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (loss weights, a noise multiplier where 0 means no noise)."""
    value = _float(text, "a finite number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def open_unit_float(text: str) -> float:
    """A number strictly between 0 and 1 (a DP delta, an EMA decay)."""
    value = _float(text, "a number strictly between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A fraction in [0, 1) (a share of a data set held out; dropout)."""
    value = _float(text, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def probability(text: str) -> float:
    """A number in [0, 1]."""
    value = _float(text, "a number in [0, 1]")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def frac_bits(text: str) -> int:
    """Fractional bits of the fixed-point encoding, within what the ring supports."""
    from privformers.mpc.ring import MAX_FRAC_BITS, MIN_FRAC_BITS  # torch: only when the option is given

    value = _int(text, f"a whole number from {MIN_FRAC_BITS} to {MAX_FRAC_BITS}")
    if not MIN_FRAC_BITS <= value <= MAX_FRAC_BITS:
        raise argparse.ArgumentTypeError(f"expected a whole number from {MIN_FRAC_BITS} to {MAX_FRAC_BITS}, "
                                         f"got {text!r}")
    return value


def secret_text(text: str) -> str:
    """Non-empty text that is valid Unicode (a prompt, a text to classify); the message never repeats it.

    An argument whose bytes are not valid UTF-8 reaches Python with lone surrogates
    (``os.fsdecode``'s surrogateescape); it would fail later in a tokenizer or on the wire."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("not valid UTF-8 text (the argument holds undecodable bytes)") from None
    if not text.strip():
        raise argparse.ArgumentTypeError("expected non-empty text")
    return text


def token_ids(text: str) -> list[int]:
    """Comma-separated token ids, each a whole number >= 0; at least one. The message names a bad
    item's position, never the ids (they are the prompt)."""
    items = [t.strip() for t in text.split(",")]
    if items and not items[-1]:
        items.pop()  # one trailing comma is harmless
    if not items:
        raise argparse.ArgumentTypeError("expected comma-separated token ids, got none")
    ids = []
    for position, item in enumerate(items, start=1):
        if not item.isdecimal() or not item.isascii():
            raise argparse.ArgumentTypeError(f"item {position} of {len(items)} is not a token id "
                                             "(a whole number >= 0)")
        ids.append(int(item))
    return ids


def check_vocab(ids: list[int], vocab_size: int, flag: str = "--prompt-ids") -> None:
    """Raise ValueError unless every id is below the model's vocabulary size (naming the position only)."""
    for position, token in enumerate(ids, start=1):
        if token >= vocab_size:
            raise ValueError(f"{flag}: item {position} of {len(ids)} is not a token id of this model "
                             f"(its vocabulary has ids 0 to {vocab_size - 1})")


def json_object(text: str) -> dict:
    """A JSON object (``{...}``), strict: NaN and Infinity are refused."""
    def no_constants(name: str) -> NoReturn:
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object {{...}}, got a JSON {type(value).__name__}")
    return value


def regex(text: str) -> str:
    """A regular expression that compiles (checked now, not after the model has loaded)."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a valid regular expression: {exc}") from None
    return text


def name_list(allowed: Collection[str]) -> Callable[[str], list[str]]:
    """A comma-separated list of names, each one of ``allowed``; at least one."""
    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"expected comma-separated names from {', '.join(allowed)}, got "
                                             f"{text!r}")
        return names

    parse.__name__ = "name_list"
    return parse


def usage_error(command: str, message: str) -> NoReturn:
    """Refuse a bad combination of options (or a missing file) as argparse does: one line, exit 2."""
    print(f"privformers {command}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None
