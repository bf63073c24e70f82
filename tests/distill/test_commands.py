"""``privformers distill`` end to end on tiny teachers and a few lines of real data, resume included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from privformers.approx import read_recipe
from privformers.cli import main
from privformers.data.registry import read_labelled, read_pairs
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.models.load import from_path
from tests.cli_helpers import run_cli

DATA = Path("/work/shared/data")
E2E, SST2 = DATA / "e2e" / "devset.csv", DATA / "sst2" / "dev.tsv"


def _save_lm_teacher(folder: Path, **config: object) -> None:
    """A tiny random GPT-2 with a BPE tokenizer trained on 20 E2E pairs, saved in folder."""
    pairs = read_pairs("e2e", E2E)[:20]
    tokenizer = train_bpe_tokenizer([p.source + " = " + p.target for p in pairs], vocab_size=300)
    torch.manual_seed(0)
    teacher = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=len(tokenizer), n_positions=128,
                                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id,
                                         **config))
    teacher.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.mark.skipif(not E2E.is_file(), reason="needs the shared E2E data")
def test_distill_lm_merge_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _save_lm_teacher(tmp_path / "teacher")
    args = ["distill", "--teacher", str(tmp_path / "teacher"), "--recipe", "merge", "--data", str(E2E), "--task", "lm",
            "--out", str(tmp_path / "out"), "--limit", "8", "--batch-size", "4", "--stage2-steps", "3",
            "--checkpoint-every", "1", "--soft-kl", "1", "--lr", "1e-3"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "merge" and out["steps"] == {"merge": 3} and "cosine" in out["last"]["merge"]
    assert read_recipe(out["student"]).name == "merge" and from_path(out["student"]).recipe.name == "merge"
    state = torch.load(tmp_path / "out" / "checkpoint" / "trainer.pt", weights_only=False)
    assert (state["stage"], state["step"], state["done"]) == (0, 3, 3)
    # a longer run resumes after the 3 steps already done instead of starting over
    assert main(args[:-6] + ["--stage2-steps", "5", "--resume", "--lr", "1e-3"]) == 0
    assert torch.load(tmp_path / "out" / "checkpoint" / "trainer.pt", weights_only=False)["done"] == 5
    capsys.readouterr()


@pytest.mark.skipif(not SST2.is_file(), reason="needs the shared SST-2 data")
def test_distill_classification_two_stages(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    texts = [x.text for x in read_labelled("sst2", SST2)[:40]]
    tokenizer = train_bpe_tokenizer(texts, vocab_size=300)
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                                       num_attention_heads=2, intermediate_size=64,
                                                       max_position_embeddings=128, num_labels=2))
    teacher.save_pretrained(tmp_path / "teacher")
    tokenizer.save_pretrained(tmp_path / "teacher")
    assert main(["distill", "--teacher", str(tmp_path / "teacher"), "--recipe", "mpcformer-quad-2quad", "--data",
                 str(SST2), "--task", "classification", "--out", str(tmp_path / "out"), "--limit", "8",
                 "--batch-size", "4", "--stage1-steps", "2", "--stage2-steps", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "mpcformer" and set(out["last"]) == {"stage1", "stage2"}
    assert {"attention", "hidden"} <= out["last"]["stage1"].keys() and "soft_ce" in out["last"]["stage2"]
    assert from_path(out["student"]).recipe.name == "mpcformer-quad-2quad"


@pytest.mark.skipif(not E2E.is_file(), reason="needs the shared E2E data")
def test_distill_fits_affine_norms_first(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _save_lm_teacher(tmp_path / "teacher", attn_implementation="eager")
    args = ["distill", "--teacher", str(tmp_path / "teacher"), "--data", str(E2E), "--task", "lm",
            "--out", str(tmp_path / "out"), "--limit", "8", "--batch-size", "4", "--stage2-steps", "1"]
    assert main(args + ["--recipe", "merge-quad-affine", "--fit-norms", "2"]) == 0
    captured = capsys.readouterr()
    assert "fitted 5 affine norms on 2 batches" in captured.err  # 2 layers x 2 norms + the final norm
    assert json.loads(captured.out)["recipe"] == "merge-quad-affine"
    assert main(args + ["--recipe", "merge", "--fit-norms", "2"]) == 2
    assert "no affine norms" in capsys.readouterr().err
    code, _, err = run_cli(args + ["--recipe", "merge-quad-affine", "--fit-norms", "-1"], capsys)
    assert code == 2 and "argument --fit-norms: expected a whole number >= 0, got '-1'" in err


@pytest.mark.skipif(not E2E.is_file(), reason="needs the shared E2E data")
def test_distill_refuses_bad_input_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Each bad input ends with exit 2 and its reason on stderr, no traceback and nothing written."""
    _save_lm_teacher(tmp_path / "teacher")
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2)).save_pretrained(tmp_path / "no-tokenizer")
    base = {"--teacher": str(tmp_path / "teacher"), "--recipe": "merge", "--data": str(E2E), "--task": "lm",
            "--out": str(tmp_path / "out"), "--limit": "8", "--batch-size": "4", "--stage2-steps": "1"}
    cases = [
        ({"--teacher": str(tmp_path / "missing")}, [], "no teacher at"),
        ({"--teacher": str(tmp_path / "no-tokenizer")}, [], "no tokenizer in"),
        ({"--recipe": "quad"}, [], "unknown recipe 'quad'; known: merge, merge-er"),
        ({"--data": str(tmp_path / "missing.csv")}, [], "data file not found"),
        ({"--batch-size": "0"}, [], "argument --batch-size: expected a whole number >= 1, got '0'"),
        ({"--lr": "0"}, [], "argument --lr: expected a finite number > 0, got '0'"),
        ({"--lam": "nan"}, [], "argument --lam: expected a number in [0, 1], got 'nan'"),
        ({"--stage2-steps": "0"}, [], "nothing to train"),
        ({}, ["--resume"], "--resume: no checkpoint at"),
    ]
    for changes, flags, message in cases:
        argv = ["distill"] + [x for k, v in {**base, **changes}.items() for x in (k, v)] + flags
        code, _, err = run_cli(argv, capsys)
        assert code == 2, message
        assert f"privformers distill: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
