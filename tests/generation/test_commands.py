"""``privformers generate``: errors for a wrong path and a too-long prompt; an end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privformers.cli import main
from privformers.generation.plain import plain_greedy
from tests.generation.helpers import PROMPT, SMALL_SPEC, plain_model, save_model


def test_wrong_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--model", str(tmp_path / "nope"), "--prompt", "w1 w2"])
    assert code == 2
    assert "no model at" in capsys.readouterr().err


def test_prompt_too_long(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_model(tmp_path / "m")
    prompt = " ".join(f"w{i % 100 + 1}" for i in range(62))
    code = main(["generate", "--model", str(folder), "--prompt", prompt, "--max-new-tokens", "4"])
    assert code == 2
    err = capsys.readouterr().err
    assert "too long" in err and "at most 60 tokens" in err


def test_generate_processes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_model(tmp_path / "m", SMALL_SPEC)
    prompt = " ".join(f"w{i}" for i in PROMPT)
    code = main(["generate", "--model", str(folder), "--prompt", prompt, "--max-new-tokens", "2", "--json",
                 "--check"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["tokens"] == out["plaintext_tokens"] == plain_greedy(plain_model(SMALL_SPEC), PROMPT, 2)[0]
    assert out["text"] == " ".join(f"w{t}" for t in out["tokens"])
    assert set(out) >= {"text", "tokens", "plaintext_tokens", "per_token", "totals", "breakdown"}
    assert len(out["per_token"]) == 2 and out["totals"]["online_bytes"] > 0
    assert out["breakdown"]["sampling"]["rounds"] > 0


def test_bench_generate_tiny(capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "generate", "--arch", "gpt2", "--size", "tiny", "--random-weights", "--layers", "1",
                 "--prompt-len", "4", "--new-tokens", "2", "--check", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tokens"] == out["plaintext_tokens"]
    assert out["meta"]["layers"] == 1 and len(out["per_token"]) == 2


@pytest.mark.slow
def test_bench_generate_compare_transport(capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "generate", "--size", "tiny", "--random-weights", "--layers", "1", "--prompt-len", "4",
                 "--new-tokens", "2", "--compare-transport", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["tokens"]) == 2
    assert len(out["tls"]) == len(out["insecure"]) == 1
    assert out["decode_seconds_per_token"]["tls"] > 0 and "tls_extra" in out
    assert out["tls"][0]["cpu_seconds"]["server"] > 0
