"""The shared validators and the strict JSON writer (privformers.cli.argtypes)."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from privformers.cli import argtypes
from tests.cli_helpers import strict_loads


@pytest.mark.parametrize(("parse", "good", "bad"), [
    (argtypes.positive_int, {"1": 1, " 7 ": 7}, ["0", "-3", "1.5", "x", ""]),
    (argtypes.non_negative_int, {"0": 0, "4": 4}, ["-1", "nan"]),
    (argtypes.positive_float, {"0.5": 0.5, "1e-3": 1e-3}, ["0", "-1", "nan", "inf", "-inf", "x"]),
    (argtypes.non_negative_float, {"0": 0.0, "2": 2.0}, ["-0.1", "nan", "inf"]),
    (argtypes.finite_float, {"-2.5": -2.5}, ["nan", "inf"]),
    (argtypes.open_unit_float, {"1e-5": 1e-5, "0.95": 0.95}, ["0", "1", "nan", "2"]),
    (argtypes.fraction, {"0": 0.0, "0.1": 0.1}, ["1", "-0.1", "nan"]),
    (argtypes.probability, {"0": 0.0, "1": 1.0}, ["1.01", "nan"]),
    (argtypes.token_ids, {"1,2,3": [1, 2, 3], " 0 , 5,": [0, 5]}, ["", ",", "1,,2", "1,x", "-1", "1.0", "\u0663"]),
    (argtypes.json_object, {'{"a": 1}': {"a": 1}, "{}": {}}, ["{bad", "[1]", "3", '{"a": NaN}', '{"a": Infinity}']),
    (argtypes.regex, {"a|b": "a|b"}, ["(", "[z-a]"]),
])
def test_validators_accept_and_refuse(parse, good: dict, bad: list[str]) -> None:
    for text, value in good.items():
        assert parse(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_secret_text_never_repeats_the_text():
    assert argtypes.secret_text("hello") == "hello"
    for text in ("", "  \n", "\udcffmy secret", "ok \udce9 my secret"):
        with pytest.raises(argparse.ArgumentTypeError) as info:
            argtypes.secret_text(text)
        assert "secret" not in str(info.value)


def test_token_id_errors_name_a_position_not_the_ids():
    with pytest.raises(argparse.ArgumentTypeError, match="item 3 of 3") as info:
        argtypes.token_ids("4242,4343,abc")
    assert "4242" not in str(info.value) and "abc" not in str(info.value)
    argtypes.check_vocab([0, 99], 100)
    with pytest.raises(ValueError, match="item 2 of 2 .* ids 0 to 99") as info:
        argtypes.check_vocab([7, 4242], 100)
    assert "4242" not in str(info.value)


def test_name_list():
    parse = argtypes.name_list(("bleu", "nist"))
    assert parse("bleu, nist") == ["bleu", "nist"]
    for text in ("", ",", "bleu,rouge"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_usage_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        argtypes.usage_error("dp-train", "give exactly one of --steps and --epochs")
    assert info.value.code == 2
    assert capsys.readouterr().err == "privformers dp-train: error: give exactly one of --steps and --epochs\n"


def test_strict_json_writes_null_for_non_finite_floats_at_any_depth():
    value = {"eps": math.inf, "runs": [1.5, math.nan, {"x": -math.inf}], "t": (1, 2), "ok": "Infinity"}
    text = argtypes.strict_json(value, indent=1)
    assert strict_loads(text) == {"eps": None, "runs": [1.5, None, {"x": None}], "t": [1, 2], "ok": "Infinity"}
    with pytest.raises(ValueError):  # negative control: what json.dumps writes is not JSON
        strict_loads(json.dumps(value))
