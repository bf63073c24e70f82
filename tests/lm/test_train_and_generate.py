"""train-lm end to end on a tiny fixture: saves a loadable model, generates, evaluate scores it."""

import json

from transformers import AutoModelForCausalLM, AutoTokenizer

from privformers.cli import main
from privformers.lm import generate_texts


def test_tiny_training_saves_loadable_model(tiny_model):
    out, summary = tiny_model
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "training_args.json").read_text())["best_epoch"] == summary["best_epoch"]
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    texts = generate_texts(
        model, tokenizer, ["name[Zizzi], area[riverside]"], max_new_tokens=5, progress=False
    )
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert len(tokenizer(texts[0])["input_ids"]) <= 6


def test_evaluate_command_json(tiny_model, tiny_data, capsys):
    out, _ = tiny_model
    code = main(
        [
            "evaluate",
            "--model",
            str(out),
            "--data",
            str(tiny_data),
            "--split",
            "all",
            "--validation-fraction",
            "0.125",
            "--test-fraction",
            "0.125",
            "--max-new-tokens",
            "8",
            "--metrics",
            "bleu,rouge-l,chrf++",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sources"] == 16 and report["references"] == 32
    assert set(report["scores"]) == {"bleu", "rouge-l", "chrf++"}


def test_evaluate_bad_input(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path / "x.csv")]) == 2
    assert "error" in capsys.readouterr().err
