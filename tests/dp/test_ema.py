"""dp-train --ema: the averaged parameters are what is evaluated and saved; training keeps the iterate."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from privformers.cli import main
from privformers.dp.ema import ParameterEMA
from tests.dp.test_commands import tiny_sst2_setup


def test_ema_follows_its_formula_and_restores_the_iterate():
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    ema = ParameterEMA([param], 0.9)
    expected = param.detach().clone()
    for value in ([3.0, 0.0], [0.5, 4.0], [-1.0, 1.0]):
        with torch.no_grad():
            param.copy_(torch.tensor(value))
        ema.update()
        expected = 0.9 * expected + 0.1 * torch.tensor(value)
    assert torch.allclose(ema.shadow[0], expected)
    with ema.applied():
        assert torch.allclose(param, expected)
    assert torch.equal(param.detach(), torch.tensor([-1.0, 1.0]))
    with pytest.raises(ValueError, match="decay"):
        ParameterEMA([param], 1.0)


def _train(tmp_path, extra):
    train, tokenizer, model_dir = tiny_sst2_setup(tmp_path, 33)
    out = tmp_path / "out"
    code = main(["dp-train", "--model", str(model_dir), "--random-init", "--tokenizer", str(tokenizer),
                 "--data", str(train), "--eval-data", str(train), "--task", "classification",
                 "--target-epsilon", "8", "--steps", "3", "--batch-size", "8", "--max-physical-batch-size", "8",
                 "--max-length", "16", "--lr", "0.05", "--log-every", "3", "--output-dir", str(out), *extra])
    return code, out


def test_dp_train_ema_saves_the_average(tmp_path, monkeypatch):
    import privformers.dp.train as train_module

    made = []

    class Recording(ParameterEMA):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(train_module, "ParameterEMA", Recording)
    code, out = _train(tmp_path, ["--ema", "0.5", "--trainable", "score"])
    assert code == 0 and len(made) == 1
    report = json.loads((out / "final" / "privacy_report.json").read_text())
    assert report["ema_decay"] == 0.5 and "accuracy" in report["eval"] and "accuracy" in report["eval_last_iterate"]
    (ema,) = made
    (param,) = ema.params  # --trainable score: the head only
    saved = load_file(out / "final" / "model.safetensors")["score.weight"]
    assert torch.equal(saved, ema.shadow[0].to(saved.dtype))
    assert not torch.equal(saved, param.detach())  # the model itself kept the last iterate


def test_dp_train_rejects_bad_ema(tmp_path):
    with pytest.raises(SystemExit):
        main(["dp-train", "--model", "x", "--data", "y", "--task", "lm", "--steps", "1", "--non-private",
              "--ema", "1.5"])
