"""A delexicalised model under MPC: the client puts placeholders in its prompt and the values back into
the text; the values reach no party process (client, server or dealer), let alone the server's side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer, GenerationConfig

from privformers.cli import main
from privformers.generation import InProcess, LocalProcesses, generate
from privformers.lm.delex import load_delex
from tests.delex_helpers import UNSEEN, train_tiny_delex_model
from tests.mpc import spy
from tests.mpc.test_launch_secrets import spied  # noqa: F401  (fixture)

VALUE = "Blue Spice"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_delex_model(tmp_path_factory.mktemp("delex"))


def test_an_unseen_name_is_copied_into_the_private_text(model: Path) -> None:
    out = generate(model, UNSEEN + " =", GenerationConfig(max_new_tokens=3), parties=InProcess())
    assert out.texts[0].lstrip().startswith(f"{VALUE} is"), out.texts
    tokenizer = AutoTokenizer.from_pretrained(model)
    assert tokenizer.decode(out.token_ids[0]).startswith(" XNAME")   # the parties computed the placeholder


def placeholder_ids(model: Path) -> list[int]:
    """The delexicalised prompt's ids: what the client process gets instead of the value."""
    prompt = load_delex(model).prompt(UNSEEN + " =")
    assert prompt.mapping == {"XNAME": VALUE}
    return AutoTokenizer.from_pretrained(model)(prompt.text)["input_ids"]


def value_leaks(root: Path) -> list[str]:
    """Where the value reached a party process: its arguments, environment, stdin, or a message."""
    seen = spy.read(root / "spy")
    assert {"client", "server", "dealer"} <= set(seen)
    found = []
    for role in ("client", "server", "dealer"):
        for p in seen[role]:
            found += [f"{role}: in its arguments, environment or stdin" for _ in [0] if VALUE in p.text()]
            found += [f"{role}: in a message it received" for _ in [0] if VALUE.encode() in p.wire]
    return found


def check_no_value_in_any_party(model: Path, root: Path) -> None:
    assert value_leaks(root) == []
    clients = spy.read(root / "spy")["client"]   # the check looks where the prompt goes
    assert clients and all(spy.has_ids(c.text(), placeholder_ids(model)) for c in clients)


def test_the_cli_keeps_the_values_in_the_launching_client(model: Path, spied: Path, capsys) -> None:  # noqa: F811
    """``privformers generate``: the value is in no party process at all (the mapping stays in the process
    that holds the prompt); the client process gets the placeholder prompt, and the text printed has the
    value back."""
    assert main(["generate", "--model", str(model), "--prompt", UNSEEN + " =", "--max-new-tokens", "3",
                 "--json", "--check"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["text"].lstrip().startswith(f"{VALUE} is") and report["tokens"] == report["plaintext_tokens"]
    check_no_value_in_any_party(model, spied)


@pytest.mark.slow
def test_the_api_keeps_the_values_in_the_launching_client(model: Path, spied: Path) -> None:  # noqa: F811
    """The same through ``generate(..., parties=LocalProcesses())``, a padded batch of two prompts."""
    out = generate(model, [UNSEEN + " =", "name[Zizzi], area[city centre] ="], GenerationConfig(max_new_tokens=3),
                   parties=LocalProcesses(timeout=300.0))
    assert out.texts[0].lstrip().startswith(f"{VALUE} is") and out.texts[1].lstrip().startswith("Zizzi is")
    check_no_value_in_any_party(model, spied)
