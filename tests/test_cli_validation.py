"""Every command refuses a bad option while parsing: one line ``privformers CMD: error: argument --X: ...``,
exit status 2, before any model loads or party process starts (issue 29, items 7 and 8).

Two kinds of test: properties of every option of every command, found by walking the parser (so a new
option with a bare ``type=int`` or ``type=float`` is caught), and the concrete cases from the issue,
run through ``privformers.cli.main``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator

import pytest

from privformers.cli import build_parser
from tests.cli_helpers import run_cli

# Options that take any whole number: seeds. --server-gemm-threads is checked after parsing, still before
# any party starts, with exit status 2 (privformers/mpc/launch.py, tests/generation/test_commands.py).
ANY_INT = {"seed", "split_seed", "server_gemm_threads"}


def _options() -> Iterator[tuple[str, argparse.Action]]:
    """(command path, action) for every option of every command and bench target."""
    def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}".strip())
            elif action.option_strings:
                yield path, action

    yield from walk(build_parser(), "")


def _convert(action: argparse.Action, text: str) -> object:
    """What the option's type makes of text, or the exception it raised."""
    try:
        return action.type(text)
    except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
        return exc


def _numeric(action: argparse.Action) -> type | None:
    """int or float when the option parses numbers ('1' gives an int or a float), else None."""
    if action.type is None:
        return None
    value = _convert(action, "1")
    return type(value) if type(value) in (int, float) else None


def test_the_walk_sees_every_command():
    commands = {path for path, _ in _options()}
    assert {"dp-train", "evaluate", "serve", "launch", "party", "certs", "generate", "classify", "dealer",
            "distill", "train-lm", "bench dp", "bench generate", "bench forward"} <= commands


def test_no_option_takes_a_bare_int_or_float():
    """Every number goes through a validator of privformers.cli.argtypes (seeds excepted): a bare int takes -5,
    a bare float takes nan and inf."""
    bare = [f"{path} {a.option_strings[-1]}" for path, a in _options()
            if a.type in (int, float) and a.dest not in ANY_INT]
    assert bare == []


def test_no_numeric_option_takes_nan_infinity_or_a_negative_number():
    taken = []
    for path, action in _options():
        kind = _numeric(action)
        if kind is None or action.dest in ANY_INT:
            continue
        for text in ("nan", "inf", "-inf", "-1"):
            value = _convert(action, text)
            if not isinstance(value, Exception):
                taken.append(f"{path} {action.option_strings[-1]} {text}")
    assert taken == []


def test_no_timeout_takes_zero():
    taken = [f"{path} {a.option_strings[-1]}" for path, a in _options()
             if "timeout" in a.dest and _numeric(a) and not isinstance(_convert(a, "0"), Exception)]
    assert taken == []


SESSION = "00" * 16
BASE = {  # the required options of each command, so that only the option under test is wrong
    "evaluate": ["--data", "x.csv"],
    "serve": ["--model", "m", "--listen", "127.0.0.1:1", "--dealer", "127.0.0.1:2"],
    "dealer": ["--listen", "127.0.0.1:1"],
    "launch": ["--program", "echo"],
    "party": ["--role", "client", "--program", "echo", "--session", SESSION, "--client", "127.0.0.1:1",
              "--server", "127.0.0.1:2", "--dealer", "127.0.0.1:3"],
    "certs": ["--out", "/nonexistent/certs"],
    "generate": [],
    "classify": ["--model", "m"],
    "dp-train": ["--model", "m", "--data", "d.tsv", "--task", "classification", "--steps", "1"],
    "distill": ["--teacher", "t", "--recipe", "merge", "--data", "d", "--task", "lm", "--out", "o"],
    "train-lm": ["--data", "d", "--out", "o"],
    "bench dp": [],
    "bench generate": ["--random-weights"],
    "bench forward": ["--random-weights"],
    "bench transport": [],
    "bench ops": [],
}
CANARY = "my secret SSN 123-45-6789"

CASES = [
    # item 7: evaluate
    ("evaluate", "--max-new-tokens", "0"), ("evaluate", "--limit", "-1"), ("evaluate", "--limit", "0"),
    ("evaluate", "--metrics", "bleu,nope"), ("evaluate", "--metrics", ","), ("evaluate", "--timeout", "0"),
    ("evaluate", "--material-mb", "nan"), ("evaluate", "--mpc-batch-size", "0"),
    ("evaluate", "--validation-fraction", "1.5"),
    # item 7: serve (and the dealer service beside it)
    ("serve", "--max-sessions", "0"), ("serve", "--timeout", "-5"), ("serve", "--max-new-tokens", "-1"),
    ("serve", "--gemm-threads", "0"), ("dealer", "--max-sessions", "0"), ("dealer", "--timeout", "inf"),
    ("dealer", "--pair-timeout", "0"),
    # item 8: launch --args, and the party's own --args
    ("launch", "--args", "{bad"), ("launch", "--args", "[1, 2]"), ("launch", "--args", '{"a": NaN}'),
    ("launch", "--timeout", "0"), ("launch", "--frac-bits", "99"), ("party", "--args", "{bad"),
    ("party", "--connect-timeout", "-1"), ("certs", "--days", "0"), ("certs", "--host", "nobody=x"),
    # item 8: prompts and texts (the value must not be repeated: it is the user's secret)
    ("generate", "--prompt-ids", "1,x"), ("generate", "--prompt-ids", "5,-1"), ("generate", "--prompt-ids", ""),
    ("generate", "--prompt-ids", "1,,2"), ("generate", "--prompt", "\udcff\udcfe " + CANARY),
    ("generate", "--prompt", "   "), ("generate", "--max-new-tokens", "0"), ("generate", "--timeout", "-1"),
    ("generate", "--material-budget-mb", "0"), ("generate", "--frac-bits", "4"),
    ("classify", "--text", ""), ("classify", "--text", " \t"), ("classify", "--text", "\udcff" + CANARY),
    ("classify", "--limit", "0"), ("classify", "--batch-size", "0"), ("classify", "--reader", "nope"),
    # item 8: DP settings
    ("dp-train", "--noise-multiplier", "nan"), ("dp-train", "--noise-multiplier", "inf"),
    ("dp-train", "--noise-multiplier", "-1"), ("dp-train", "--max-grad-norm", "nan"),
    ("dp-train", "--max-grad-norm", "0"), ("dp-train", "--lr", "inf"), ("dp-train", "--lr", "0"),
    ("dp-train", "--target-epsilon", "nan"), ("dp-train", "--target-epsilon", "0"),
    ("dp-train", "--target-epsilon", "inf"), ("dp-train", "--target-delta", "nan"),
    ("dp-train", "--target-delta", "0"), ("dp-train", "--target-delta", "1"), ("dp-train", "--ema", "1.5"),
    ("dp-train", "--ema", "nan"), ("dp-train", "--batch-size", "0"), ("dp-train", "--steps", "0"),
    ("dp-train", "--epochs", "nan"), ("dp-train", "--trainable", "("), ("dp-train", "--warmup-steps", "-1"),
    ("dp-train", "--log-every", "0"),
    # the other trainers and the benchmarks
    ("distill", "--lr", "nan"), ("distill", "--lam", "2"), ("distill", "--batch-size", "0"),
    ("train-lm", "--eval-every", "0"), ("train-lm", "--dropout", "1"), ("bench dp", "--steps", "0"),
    ("bench generate", "--new-tokens", "0"), ("bench forward", "--seq-len", "0"),
    ("bench transport", "--seconds", "nan"), ("bench ops", "--frac-bits", "0"),
]


@pytest.mark.parametrize(("command", "option", "value"), CASES, ids=[f"{c}{o}={v!r}" for c, o, v in CASES])
def test_a_bad_option_is_one_line_and_exit_2(command: str, option: str, value: str,
                                            capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_cli([*command.split(), *BASE[command], option, value], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"privformers {command}: error: argument {option}"), err
    assert "Traceback" not in err and out == ""
    if CANARY in value:
        assert "SSN" not in err


def test_the_argument_error_says_what_is_wrong(capsys: pytest.CaptureFixture) -> None:
    """A few messages in full: the reason, in words, never a traceback."""
    cases = {
        ("serve", "--max-sessions", "0"): "expected a whole number >= 1, got '0'",
        ("evaluate", "--limit", "-1"): "expected a whole number >= 1, got '-1'",
        ("launch", "--args", "{bad"): "not valid JSON",
        ("launch", "--args", "[1]"): "expected a JSON object {...}, got a JSON list",
        ("dp-train", "--noise-multiplier", "nan"): "expected a finite number >= 0, got 'nan'",
        ("generate", "--prompt-ids", "1,x"): "item 2 of 2 is not a token id",
        ("generate", "--prompt", "\udcff"): "not valid UTF-8 text",
        ("classify", "--text", ""): "expected non-empty text",
    }
    for (command, option, value), reason in cases.items():
        code, _, err = run_cli([*command.split(), *BASE[command], option, value], capsys)
        assert code == 2 and reason in err.strip().splitlines()[-1], (command, option, err)


def test_nan_as_a_float_is_what_the_walk_would_catch():
    """Negative control of the property tests: a bare float parser does take nan, inf and -1."""
    parser = argparse.ArgumentParser()
    action = parser.add_argument("--x", type=float)
    assert all(not isinstance(_convert(action, t), Exception) for t in ("nan", "inf", "-1"))
    assert math.isnan(_convert(action, "nan"))
