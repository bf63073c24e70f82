"""dp-train end to end on tiny models: private steps, checkpoints, privacy report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transformers as tf

from privformers.cli import main
from tests.cli_helpers import run_cli, strict_loads

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


def tiny_sst2_setup(tmp_path: Path, rows: int) -> tuple[Path, Path, Path]:
    """(train file of the first ``rows`` lines of sst2/dev.tsv, GPT-2 tokenizer, tiny GPT-2 config folder)."""
    sst2 = _need(DATA / "sst2" / "dev.tsv")
    tokenizer = _need(DATA / "tokenizers" / "gpt2")
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(sst2.read_text(encoding="utf-8").splitlines()[:rows]) + "\n", encoding="utf-8")
    model_dir = tmp_path / "tiny-gpt2"
    tf.GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=64, pad_token_id=50256).save_pretrained(model_dir)
    return train, tokenizer, model_dir


def test_dp_train_lm_writes_checkpoints_and_report(tmp_path):
    e2e = _need(DATA / "e2e" / "devset.csv")
    tokenizer = _need(DATA / "tokenizers" / "gpt2")
    rows = e2e.read_text(encoding="utf-8").splitlines()[:41]
    train = tmp_path / "train.csv"
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model_dir = tmp_path / "tiny-gpt2"
    tf.GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=64).save_pretrained(model_dir)
    out = tmp_path / "out"
    code = main(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                 "--data", str(train), "--eval-data", str(train), "--task", "lm", "--target-epsilon", "3",
                 "--steps", "2", "--batch-size", "8", "--max-physical-batch-size", "4", "--max-length", "32",
                 "--bleu-mrs", "2", "--log-every", "1", "--save-every", "1", "--output-dir", str(out),
                 "--clipping-mode", "ghost", "--ema", "0.9"])
    assert code == 0
    report = json.loads((out / "final" / "privacy_report.json").read_text())
    assert report["private"] and report["steps"] == 2 and report["sampling_assumed"] == "poisson"
    assert 0 < report["eps_rdp"] <= 3.0 + 1e-6 and report["eps_pld"] <= report["eps_rdp"]
    assert report["delta"] == pytest.approx(1 / 40**1.1)
    assert (out / "checkpoint-1" / "privacy_report.json").exists()
    assert 0 <= report["eval"]["bleu"] <= 100 and report["eval"]["bleu_sources"] == 2  # of the average
    assert report["ema_decay"] == 0.9 and "loss" in report["eval_last_iterate"]
    tf.GPT2LMHeadModel.from_pretrained(out / "final")


def test_dp_train_rejects_missing_budget(tmp_path):
    with pytest.raises(SystemExit):
        main(["dp-train", "--model", "x", "--data", "y", "--task", "lm", "--steps", "1"])


def test_dp_train_refuses_missing_files_and_models(tmp_path, capsys):
    """A missing data file or model is named in the error, before any loading or training."""
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 9)
    base = ["dp-train", "--task", "classification", "--steps", "1", "--non-private", "--tokenizer", str(tokenizer),
            "--output-dir", str(tmp_path / "out")]
    for extra, reason in (
            (["--model", str(model_dir), "--data", str(tmp_path / "missing.tsv")], "--data: file not found"),
            (["--model", str(model_dir), "--data", str(train), "--eval-data", str(tmp_path / "no.tsv")],
             "--eval-data: file not found"),
            (["--model", "/nonexistent/model", "--data", str(train)], "no model at '/nonexistent/model'")):
        code, _, err = run_cli(base + extra, capsys)
        assert code == 2 and err.startswith("privformers dp-train: error: ") and reason in err
    assert not (tmp_path / "out").exists()


def test_dp_train_lora_classification_saves_a_merged_plain_model(tmp_path, capsys):
    """--lora: only adapters and the head are trained and noised; the checkpoint is an ordinary model
    (adapters merged) that from_pretrained loads without peft, with the trained head."""
    pytest.importorskip("peft")
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 41)
    out = tmp_path / "out"
    code = main(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                 "--data", str(train), "--eval-data", str(train), "--task", "classification",
                 "--target-epsilon", "8", "--steps", "2", "--batch-size", "8", "--max-physical-batch-size", "4",
                 "--max-length", "32", "--lora", "2", "--log-every", "1", "--output-dir", str(out)])
    assert code == 0
    report = json.loads((out / "final" / "privacy_report.json").read_text())
    lora_params = 1 * (16 * 2 + 2 * 48)          # one c_attn adapter: A (16 -> 2) and B (2 -> 48)
    head = 16 * 2                                  # GPT-2's classification head has no bias
    assert report["trainable_parameters"] == lora_params + head
    saved = (out / "final" / "model.safetensors")
    assert saved.exists() and not (out / "final" / "adapter_config.json").exists()
    model = tf.GPT2ForSequenceClassification.from_pretrained(out / "final")
    assert not any("lora_" in n for n, _ in model.named_parameters())
    code, _, err = run_cli(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                            "--data", str(train), "--task", "classification", "--non-private", "--steps", "1",
                            "--batch-size", "8", "--lora", "2", "--trainable", "score", "--output-dir", str(out)],
                           capsys)
    assert code == 2 and "--lora trains only the adapters" in err


def test_noise_multiplier_zero_is_reported_not_private_in_strict_json(tmp_path, capsys):
    """Issue 29 item 7: --noise-multiplier 0 (clipping only) has no finite epsilon. The report says
    "private": false with eps_* null and a line saying why, in JSON that strict parsers accept (it was
    "private": true and "eps_rdp": Infinity, which is not JSON)."""
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 9)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                              "--data", str(train), "--task", "classification", "--noise-multiplier", "0",
                              "--steps", "1", "--batch-size", "4", "--max-length", "16", "--log-every", "1",
                              "--output-dir", str(out_dir)], capsys)
    assert code == 0, err
    assert "Infinity" not in out and "NaN" not in out
    printed = strict_loads(out[out.index("{\n"):])  # the final report (the step line before it is one line)
    saved = strict_loads((out_dir / "final" / "privacy_report.json").read_text())
    for report in (printed, saved):
        assert report["private"] is False
        assert report["eps_rdp"] is None and report["eps_pld"] is None
        assert report["privacy"].startswith("none: no accountant gives a finite epsilon")
    assert saved["training"]["noise_multiplier"] == 0.0


def test_privacy_claim_keeps_finite_epsilons_and_calls_the_run_private():
    from privformers.dp.train import privacy_claim

    spent = {"eps_rdp": 2.5, "eps_pld": 2.4, "delta": 1e-5, "steps": 3}
    assert privacy_claim(spent) == (spent, True)
    honest, private = privacy_claim({**spent, "eps_rdp": float("inf")})
    assert not private and honest["eps_rdp"] is None and honest["eps_pld"] is None and "privacy" in honest


CANARY = "my secret SSN 123-45-6789"
# (file name, bytes, task, line the error must name, what it must say): malformed training data of each kind
MALFORMED = [
    ("no-tab.tsv", f"sentence\tlabel\nfine row\t1\n{CANARY} no tab\n".encode(), "classification", 3,
     "expected TEXT<TAB>LABEL, found no tab"),
    ("label.tsv", f"sentence\tlabel\nfine row\t1\nsome text\t{CANARY}\n".encode(), "classification", 3,
     "expected TEXT<TAB>LABEL, the label is not a whole number >= 0"),
    ("headerless.tsv", f"{CANARY}\t1\nfine row\t0\n".encode(), "classification", 1,
     "expected the header 'sentence<TAB>label'"),
    ("utf8.tsv", b"sentence\tlabel\nfine row\t1\n" + CANARY.encode() + b" \xff\xfe\t1\n", "classification", 3,
     "not valid UTF-8 text"),
    ("mr.csv", f'mr,ref\n"name[Eagle]",fine\n"{CANARY}",a reference\n'.encode(), "lm", 3,
     "mr is not an E2E meaning representation"),
    ("headerless.csv", f'"name[{CANARY}]",ref one\n"name[B]",ref two\n'.encode(), "lm", 1,
     "expected a CSV header with columns mr,ref"),
]


def _malformed_run(tmp_path, capsys, name: str, data: bytes, task: str) -> tuple[int, str, str, str]:
    _, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 2)
    path = tmp_path / name
    path.write_bytes(data)
    assert CANARY.encode() in path.read_bytes()
    code, out, err = run_cli(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                              "--data", str(path), "--task", task, "--noise-multiplier", "1", "--steps", "1",
                              "--batch-size", "1", "--output-dir", str(tmp_path / "out")], capsys)
    return code, out, err, str(path)


@pytest.mark.parametrize(("name", "data", "task", "line", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_row_is_named_by_line_never_shown(tmp_path, capsys, name, data, task, line, reason):
    """Issue 29 items 6 and 8: one line, exit 2, naming the file, the line and what is wrong; no part of the row
    in stdout or stderr, in the message or in a traceback (chained exceptions included)."""
    code, out, err, path = _malformed_run(tmp_path, capsys, name, data, task)
    assert CANARY not in out + err and "SSN" not in out + err and "123-45" not in out + err
    assert code == 2, err
    (message,) = err.strip().splitlines()
    assert message.startswith(f"privformers dp-train: error: --data: {path}:{line}: {reason}"), message
    assert not (tmp_path / "out").exists()


def test_the_leak_check_catches_a_leak(tmp_path, capsys, monkeypatch):
    """Negative control: a reader whose error quotes the row (as the old one did) is caught by the same check."""
    import privformers.dp.datasets as datasets

    def leaky(path):
        row = Path(path).read_text(encoding="utf-8").splitlines()[2]
        raise ValueError(f"{path}:3: expected 2 tab-separated fields, got {[row]}")

    monkeypatch.setattr(datasets, "read_classification_tsv", leaky)
    name, data, task, _, _ = MALFORMED[0]
    code, out, err, _ = _malformed_run(tmp_path, capsys, name, data, task)
    assert CANARY in out + err


def test_contradictory_or_impossible_settings_are_refused_before_loading(tmp_path, capsys, monkeypatch):
    """Combinations argparse cannot check, and data that cannot train: exit 2, one line, before the tokenizer or
    the model loads (train() is never called)."""
    import privformers.dp.train as train_module

    monkeypatch.setattr(train_module, "train", lambda args: pytest.fail("train() was called"))
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 9)  # 8 rows, labels 0 and 1
    base = ["dp-train", "--model", str(model_dir), "--tokenizer", str(tokenizer), "--data", str(train),
            "--task", "classification", "--batch-size", "4", "--output-dir", str(tmp_path / "out")]
    gapped = tmp_path / "gapped.tsv"
    gapped.write_text("sentence\tlabel\na\t1\nb\t2\nc\t1\nd\t2\n")
    cases = [
        (["--non-private", "--noise-multiplier", "1", "--steps", "1"], "--non-private trains without"),
        (["--steps", "1"], "give exactly one of --target-epsilon and --noise-multiplier"),
        (["--noise-multiplier", "1"], "give exactly one of --steps and --epochs"),
        (["--noise-multiplier", "1", "--steps", "3", "--warmup-steps", "3"], "--warmup-steps must be below"),
        (["--noise-multiplier", "1", "--steps", "1", "--bleu-mrs", "2"], "--bleu-mrs scores generations"),
        (["--noise-multiplier", "1", "--steps", "1", "--lora-alpha", "4"], "need --lora RANK"),
        (["--noise-multiplier", "1", "--steps", "1", "--batch-size", "9"],
         "--batch-size 9 is larger than the 8 training examples"),
        (["--noise-multiplier", "1", "--steps", "1", "--max-train-examples", "3"],
         "--batch-size 4 is larger than the 3 training examples"),
        (["--noise-multiplier", "1", "--steps", "1", "--data", str(gapped)], "labels must be numbered 0 to K-1"),
        (["--noise-multiplier", "1", "--steps", "1", "--eval-data", str(gapped)],
         "--eval-data: a label is not one of the 2 labels"),
    ]
    for extra, reason in cases:
        code, out, err = run_cli(base + extra, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and reason in err, (extra, err)
        assert err.startswith("privformers dp-train: error: ") and out == ""


def test_nproc_relaunches_through_torchrun_without_the_nproc_option(tmp_path, capsys, monkeypatch):
    """--nproc N runs the same command line (less --nproc) under torchrun; a failed run says so, exit status
    kept; --nproc that contradicts the launcher's world size is refused."""
    from privformers.dp import launch

    assert launch.without_nproc(["a", "--nproc", "2", "b", "--nproc=3", "c"]) == ["a", "b", "c"]
    cmd = launch.torchrun_command(2, ["dp-train", "--nproc", "2", "--steps", "1"])
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert cmd[6:] == ["privformers.cli", "dp-train", "--steps", "1"]
    assert launch.child_env(3)["OMP_NUM_THREADS"] == "3"
    assert launch.child_env(1)["PYTHONPATH"].split(":")[0] == str(Path(__file__).resolve().parents[2])
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 9)
    argv = ["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer), "--data",
            str(train), "--task", "classification", "--target-epsilon", "8", "--steps", "1", "--batch-size", "4",
            "--output-dir", str(tmp_path / "out"), "--nproc", "2"]
    calls = []
    monkeypatch.setattr(launch, "launch", lambda n, args, threads: calls.append((n, args)) or 7)
    code, _, err = run_cli(argv, capsys)
    assert code == 7 and calls == [(2, argv)] and "the 2-process run failed (exit status 7)" in err
    monkeypatch.setenv("WORLD_SIZE", "3")
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and "--nproc 2 under a launcher that started 3 processes" in err
    monkeypatch.delenv("WORLD_SIZE")
    non_private = [a for a in argv if a not in ("--target-epsilon", "8")]
    code, _, err = run_cli(non_private + ["--non-private", "--batch-size", "1"], capsys)
    assert code == 2 and "--batch-size must be at least 2" in err


@pytest.mark.slow
def test_dp_train_on_two_processes(tmp_path):
    """dp-train --nproc 2 end to end (torchrun, gloo): one report and one checkpoint, from rank 0."""
    import subprocess
    import sys

    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 41)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "privformers.cli", "dp-train", "--model", str(model_dir),
                          "--random-init", "--tokenizer", str(tokenizer), "--data", str(train), "--eval-data",
                          str(train), "--task", "classification", "--target-epsilon", "8", "--steps", "3",
                          "--batch-size", "8", "--max-physical-batch-size", "4", "--max-length", "32",
                          "--log-every", "1", "--output-dir", str(out), "--nproc", "2"],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "final" / "privacy_report.json").read_text())
    assert report["processes"] == 2 and report["steps"] == 3 and 0 < report["eps_rdp"] <= 8 + 1e-6
    assert run.stdout.count('"step": 3') == 2   # the step line and the final report, printed once (rank 0)
    tf.GPT2ForSequenceClassification.from_pretrained(out / "final")


def test_dp_train_lora_on_a_llama_architecture_model(tmp_path):
    """dp-train --lora on a tiny random Llama (the default targets take q_proj and v_proj): only the adapters
    are trained, and the checkpoint is a plain LlamaForCausalLM with them merged in."""
    pytest.importorskip("peft")
    e2e = _need(DATA / "e2e" / "devset.csv")
    tokenizer = _need(DATA / "tokenizers" / "gpt2")
    train = tmp_path / "train.csv"
    train.write_text("\n".join(e2e.read_text(encoding="utf-8").splitlines()[:21]) + "\n", encoding="utf-8")
    model_dir = tmp_path / "tiny-llama"
    tf.LlamaConfig(vocab_size=50257, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                   num_key_value_heads=1, max_position_embeddings=64, bos_token_id=50256,
                   eos_token_id=50256).save_pretrained(model_dir)
    out = tmp_path / "out"
    code = main(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer), "--data",
                 str(train), "--task", "lm", "--target-epsilon", "8", "--steps", "2", "--batch-size", "6",
                 "--max-length", "32", "--lora", "2", "--log-every", "2", "--output-dir", str(out)])
    assert code == 0
    report = json.loads((out / "final" / "privacy_report.json").read_text())
    # per layer: q_proj A (16 -> 2) and B (2 -> 16); v_proj A (16 -> 2) and B (2 -> 8: one key/value head)
    assert report["trainable_parameters"] == 2 * (16 * 2 + 2 * 16 + 16 * 2 + 2 * 8)
    model = tf.LlamaForCausalLM.from_pretrained(out / "final")
    assert not any("lora_" in n for n, _ in model.named_parameters())
