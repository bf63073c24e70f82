"""train-lm end to end on a tiny fixture: saves a loadable model, generates, evaluate scores it."""

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from privformers.cli import main
from privformers.lm import generate_texts
from tests.cli_helpers import run_cli


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
    code, _, err = run_cli(["evaluate", "--data", str(tmp_path / "x.csv"), "--mpc", "--mpc-batch-size", "0"], capsys)
    assert code == 2 and "argument --mpc-batch-size: expected a whole number >= 1, got '0'" in err


def test_evaluate_refuses_unwritable_outputs_before_generating(tiny_model, tiny_data, tmp_path, capsys, monkeypatch):
    """A --hypotheses-out in a missing folder, or a --bertscore-model that is not there, would fail only after
    every source was generated (hours under --mpc): exit 2 before the model loads."""
    import privformers.lm.evaluate as evaluate

    monkeypatch.setattr(evaluate, "load_causal_lm", lambda path: pytest.fail("the model was loaded"))
    out, _ = tiny_model
    base = ["evaluate", "--model", str(out), "--data", str(tiny_data)]
    for extra, reason in ((["--hypotheses-out", str(tmp_path / "no" / "h.txt")], "--hypotheses-out: cannot write"),
                          (["--hypotheses-out", str(tmp_path)], "--hypotheses-out: cannot write"),
                          (["--bertscore-model", str(tmp_path / "nope")], "--bertscore-model: no such folder")):
        code, _, err = run_cli(base + extra, capsys)
        assert code == 2 and reason in err, err


def _evaluate(model, data, capsys, *extra):
    args = ["evaluate", "--model", str(model), "--data", str(data), "--split", "test", "--validation-fraction",
            "0.125", "--test-fraction", "0.125", "--max-new-tokens", "6", "--metrics", "bleu,chrf++", "--json", *extra]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow   # evaluate --mpc also runs in test_evaluate_student_in_plaintext_and_mpc and the launch spy tests
def test_evaluate_under_mpc_equals_plaintext(tiny_model, tiny_data, tmp_path, capsys):
    """--mpc generates every source in one three-process session; the texts (so the scores) equal
    plaintext greedy decoding, and the report carries the online cost per token."""
    out, _ = tiny_model
    plain = _evaluate(out, tiny_data, capsys, "--hypotheses-out", str(tmp_path / "plain.txt"))
    mpc = _evaluate(out, tiny_data, capsys, "--mpc", "--hypotheses-out", str(tmp_path / "mpc.txt"))
    assert (tmp_path / "mpc.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert mpc["scores"] == plain["scores"] and mpc["sources"] == 2
    assert mpc["mpc"]["prompts"] == 2 and mpc["mpc"]["decode_rounds_per_token"] > 0
    assert 1 <= mpc["mpc"]["passes"] <= 2
    alone = _evaluate(out, tiny_data, capsys, "--mpc", "--mpc-batch-size", "1")
    assert alone["scores"] == plain["scores"] and alone["mpc"]["passes"] == 2


def test_evaluate_student_in_plaintext_and_mpc(tiny_model, tiny_data, tmp_path, capsys):
    """A student folder (recipe saved with it) is evaluated converted, in plaintext and under MPC alike."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from privformers.approx import approximate, save_student

    out, _ = tiny_model
    teacher = AutoModelForCausalLM.from_pretrained(out, attn_implementation="eager")
    save_student(approximate(teacher, "merge"), tmp_path / "student")
    AutoTokenizer.from_pretrained(out).save_pretrained(tmp_path / "student")
    plain = _evaluate(tmp_path / "student", tiny_data, capsys, "--hypotheses-out", str(tmp_path / "plain.txt"))
    mpc = _evaluate(tmp_path / "student", tiny_data, capsys, "--mpc", "--hypotheses-out", str(tmp_path / "mpc.txt"))
    assert (tmp_path / "mpc.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert mpc["scores"] == plain["scores"] and "final_seconds_total" in mpc["mpc"]


def test_train_lm_names_a_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="train-lm: data file not found"):
        main(["train-lm", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_a_model_trained_without_delex_records_none(tiny_model):
    from privformers.lm.delex import DELEX_FILE

    out, summary = tiny_model
    assert not (out / DELEX_FILE).exists() and summary["selected_by"] == "bleu"
