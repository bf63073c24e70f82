"""dp-train end to end on tiny models: private steps, checkpoints, privacy report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import transformers as tf

from privformers.cli import main

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
    with pytest.raises(SystemExit, match="--data: file not found"):
        main(base + ["--model", str(model_dir), "--data", str(tmp_path / "missing.tsv")])
    with pytest.raises(SystemExit, match="--eval-data: file not found"):
        main(base + ["--model", str(model_dir), "--data", str(train), "--eval-data", str(tmp_path / "no.tsv")])
    with pytest.raises(SystemExit, match="no model at '/nonexistent/model'"):
        main(base + ["--model", "/nonexistent/model", "--data", str(train)])
    assert not (tmp_path / "out").exists()


def test_dp_train_lora_classification_saves_a_merged_plain_model(tmp_path):
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
    with pytest.raises(ValueError, match="--lora"):
        main(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
              "--data", str(train), "--task", "classification", "--non-private", "--steps", "1",
              "--batch-size", "8", "--lora", "2", "--trainable", "score", "--output-dir", str(out)])
