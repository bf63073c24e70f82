"""``privformers generate``: errors for a wrong path and a too-long prompt; an end-to-end run."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from privformers.cli import main
from privformers.models.plain import plain_greedy
from tests.generation.helpers import PROMPT, SMALL_SPEC, plain_model, save_model


def test_wrong_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["generate", "--model", str(tmp_path / "nope"), "--prompt", "w1 w2"])
    assert code == 2
    assert "no model at" in capsys.readouterr().err


def test_model_folder_without_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_model(tmp_path / "m")
    (folder / "model.safetensors").unlink()
    code = main(["generate", "--model", str(folder), "--prompt", "w1 w2"])
    assert code == 2
    assert "no weights in" in capsys.readouterr().err


def test_prompt_too_long(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_model(tmp_path / "m")
    prompt = " ".join(f"w{i % 100 + 1}" for i in range(62))
    code = main(["generate", "--model", str(folder), "--prompt", prompt, "--max-new-tokens", "4"])
    assert code == 2
    err = capsys.readouterr().err
    assert "too long" in err and "at most 60 tokens" in err
    # more new tokens than the whole context: the message names the new tokens, not a negative prompt length
    assert main(["generate", "--model", str(folder), "--prompt", "w1 w2", "--max-new-tokens", "1000"]) == 2
    err = capsys.readouterr().err
    assert "1000 new tokens do not fit" in err and "at most 62 new tokens" in err and "-" not in err.split(":")[-1]


def test_server_gemm_options_are_checked_before_any_party_starts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A GPU that is not there, zero threads, or the options in client-of-a-server mode: exit 2 with the
    reason, from ``generate`` and ``bench generate`` alike, before any party process starts."""
    import torch

    folder = save_model(tmp_path / "m")
    absent = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    base = ["generate", "--model", str(folder), "--prompt", "w1 w2"]
    assert main([*base, "--server-gemm-device", absent]) == 2
    assert f"--server-gemm-device: gemm device '{absent}'" in capsys.readouterr().err
    assert main([*base, "--server-gemm-threads", "0"]) == 2
    assert "--server-gemm-threads must be at least 1" in capsys.readouterr().err
    assert main([*base, "--server", "127.0.0.1:9", "--dealer", "127.0.0.1:9", "--server-gemm-device", "cuda"]) == 2
    assert "are for local parties" in capsys.readouterr().err
    assert main(["bench", "generate", "--random-weights", "--server-gemm-device", absent]) == 2
    assert f"gemm device '{absent}'" in capsys.readouterr().err


def test_generate_processes_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = save_model(tmp_path / "m", SMALL_SPEC)
    prompt = " ".join(f"w{i}" for i in PROMPT)
    code = main(["generate", "--model", str(folder), "--prompt", prompt, "--max-new-tokens", "2", "--json",
                 "--check"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0
    # progress from launch to the last token, in order (the parties' startup is seconds of silence otherwise)
    milestones = ["[launch] starting the client, server and dealer", "[client] connected to dealer, server (tls1.3)",
                  "[client] setup and offline pass", "[client] token 1/2", "[client] token 2/2"]
    at = [captured.err.find(m) for m in milestones]
    assert -1 not in at and at == sorted(at), captured.err
    assert out["tokens"] == out["plaintext_tokens"] == plain_greedy(plain_model(SMALL_SPEC), PROMPT, 2)[0]
    assert out["text"] == " ".join(f"w{t}" for t in out["tokens"])
    assert set(out) >= {"text", "tokens", "plaintext_tokens", "per_token", "totals", "breakdown"}
    assert len(out["per_token"]) == 2 and out["totals"]["online_bytes"] > 0
    assert all(set(step) >= {"seconds", "online_bytes", "rounds"} for step in out["per_token"])
    assert set(out["breakdown"]) >= {"embedding", "linear", "softmax", "activation", "norm", "lm_head", "sampling",
                                     "other"}
    assert out["breakdown"]["sampling"]["rounds"] > 0


def test_bench_generate_tiny(capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "generate", "--arch", "gpt2", "--size", "tiny", "--random-weights", "--layers", "1",
                 "--prompt-len", "4", "--new-tokens", "2", "--check", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["tokens"] == out["plaintext_tokens"]
    assert out["meta"]["layers"] == 1 and len(out["per_token"]) == 2
    assert out["offline_bytes"] > out["totals"]["online_bytes"] > 0   # the dealer's material, all steps


def _wait_text(path: Path, text: str, seconds: float, runner: threading.Thread) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and runner.is_alive():
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.02)
    pytest.fail(f"{path.name} did not show {text!r} within {seconds:g} s (session still running: {runner.is_alive()})")


@pytest.mark.parametrize("victim, party, text", [
    ("server", "client", "[client] token 1/"),  # mid-way through the online phase, tokens flowing
    pytest.param("dealer", "dealer", "connected to", marks=pytest.mark.slow),  # setup / offline phase
])
def test_killed_party_ends_generate_with_clear_error(victim: str, party: str, text: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL one party process mid-generation: the command and the other parties end within seconds,
    each naming the lost party, with no traceback."""
    import privformers.mpc.launch as launch

    procs: dict[str, launch.PartyProcess] = {}
    real_start = launch.start_parties

    def start(program: str, args: dict, workdir: Path, *rest: object, **kw: object) -> dict[str, launch.PartyProcess]:
        procs.update(real_start(program, args, tmp_path, *rest, **kw))  # keep their logs after the run
        return procs

    monkeypatch.setattr(launch, "start_parties", start)
    folder = save_model(tmp_path / "m", SMALL_SPEC)
    argv = ["generate", "--model", str(folder), "--prompt", " ".join(f"w{i}" for i in PROMPT), "--max-new-tokens",
            "4", "--check", "--json"]
    code: list[int] = []
    runner = threading.Thread(target=lambda: code.append(main(argv)), daemon=True)
    runner.start()
    try:
        _wait_text(tmp_path / f"{party}.err", text, 300, runner)
        procs[victim].proc.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        runner.join(30)
        elapsed = time.monotonic() - t0
        assert not runner.is_alive(), "privformers generate still running 30 s after a party was killed"
    finally:
        for p in procs.values():
            if p.proc.poll() is None:
                p.proc.kill()
    err = capsys.readouterr().err
    print(f"killed the {victim}: generate ended {elapsed:.1f} s later\n{err}")
    assert code == [1]
    assert f"{victim} failed (killed by SIGKILL: out of memory?)" in err
    assert "Traceback" not in err
    survivors = [r for r, p in procs.items() if r != victim and p.proc.returncode != 0]
    assert "client" in survivors  # the client was still waiting for tokens
    for role in survivors:
        log = procs[role].stderr.read_text(errors="replace")
        # it noticed by itself (the launcher kills only those still running GRACE_S after a failure,
        # which on a loaded machine can catch one still tearing down after its error message)
        assert f"{role} failed: {victim} at 127.0.0.1:" in procs[role].last_error(), log
        assert procs[role].proc.returncode in (1, -signal.SIGKILL), log
        assert "Traceback" not in log


@pytest.mark.slow
def test_bench_generate_compare_transport(capsys: pytest.CaptureFixture) -> None:
    code = main(["bench", "generate", "--size", "tiny", "--random-weights", "--layers", "1", "--prompt-len", "4",
                 "--new-tokens", "2", "--compare-transport", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["tokens"]) == 2
    assert len(out["tls"]) == len(out["insecure"]) == 1
    assert out["decode_seconds_per_token"]["tls"] > 0 and "tls_extra" in out
    assert out["tls"][0]["cpu_seconds"]["server"] > 0


def test_prompt_ids_outside_the_vocabulary_are_refused_before_any_party_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 29 item 8: an id >= the model's vocabulary size, or both --prompt and --prompt-ids: exit 2 with the
    reason (a position, never the ids), locally and as the client of a server, and no party process starts."""
    import privformers.generation.api as api

    monkeypatch.setattr(api, "generate", lambda *a, **k: pytest.fail("parties were launched or the client connected"))
    folder = save_model(tmp_path / "m")
    vocab = SMALL_SPEC.config.vocab_size
    client = ["--server", "127.0.0.1:9", "--dealer", "127.0.0.1:9", "--insecure-transport"]
    for extra in ([], client):
        assert main(["generate", "--model", str(folder), "--prompt-ids", f"5,{vocab}", *extra]) == 2
        err = capsys.readouterr().err
        assert f"--prompt-ids: item 2 of 2 is not a token id of this model (its vocabulary has ids 0 to {vocab - 1})" \
            in err and str(vocab) + "," not in err
        assert main(["generate", "--model", str(folder), "--prompt", "w1", "--prompt-ids", "5", *extra]) == 2
        assert "not both" in capsys.readouterr().err
