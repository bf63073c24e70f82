"""``privformers classify``: a classifier and its distilled-style student under MPC, three processes over TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from privformers.approx import approximate, save_student
from privformers.cli import main
from privformers.data.registry import read_labelled
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.mpc.party import CLIENT
from privformers.mpc.session import run_local
from privformers.secure.classify import classify_many_program, length_batches, load_classifier, plain_classify
from tests.cli_helpers import run_cli

SST2 = Path("/work/shared/data/sst2/dev.tsv")
pytestmark = pytest.mark.skipif(not SST2.is_file(), reason="needs the shared SST-2 data")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("cls")
    tokenizer = train_bpe_tokenizer([x.text for x in read_labelled("sst2", SST2)[:200]], vocab_size=300)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2, initializer_range=0.2)
    teacher = BertForSequenceClassification._from_config(config, attn_implementation="eager").eval()
    teacher.save_pretrained(tmp / "teacher")
    tokenizer.save_pretrained(tmp / "teacher")
    save_student(approximate(teacher, "mpcformer-quad-2quad"), tmp / "student")
    tokenizer.save_pretrained(tmp / "student")
    return {"teacher": tmp / "teacher", "student": tmp / "student"}


@pytest.mark.parametrize("which", ["teacher", "student"])
def test_classify_data_under_mpc_matches_plaintext(folders: dict[str, Path], which: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["classify", "--model", str(folders[which]), "--data", str(SST2), "--limit", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 4 and out["mpc_plaintext_agreement"] == 1.0
    assert out["max_abs_logit_error"] < 0.05
    assert out["mpc_accuracy"] == out["plaintext_accuracy"]
    assert out["rounds_per_text"] > 0 and out["online_bytes_per_text"] > 0


def test_padded_plaintext_equals_one_by_one(folders: dict[str, Path]) -> None:
    """The batched plaintext reference (padding + attention mask) gives each text's unpadded logits,
    for the exact model and for the student's 2Quad attention alike."""
    texts = [x.text for x in read_labelled("sst2", SST2)[:6]]
    for which in ("teacher", "student"):
        model, tokenizer = load_classifier(folders[which])
        batched = plain_classify(model, tokenizer, texts)
        single = torch.cat([plain_classify(model, tokenizer, [t]) for t in texts])
        assert torch.allclose(batched, single, atol=1e-4), which


def test_classify_errors(folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["classify", "--model", str(tmp_path / "missing"), "--text", "good"]) == 2
    assert "no model at" in capsys.readouterr().err
    for extra in (["--data", str(SST2), "--limit", "0"], ["--text", "good", "--batch-size", "0"], ["--text", ""]):
        code, _, err = run_cli(["classify", "--model", str(folders["teacher"]), *extra], capsys)
        assert code == 2 and f"privformers classify: error: argument {extra[-2]}" in err


def test_a_malformed_data_file_is_refused_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import privformers.secure.classify as classify

    monkeypatch.setattr(classify, "load_classifier", lambda path: pytest.fail("the model was loaded"))
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\nfine\t1\nmy secret SSN 123-45-6789\tnot a label\n")
    code, _, err = run_cli(["classify", "--model", str(tmp_path / "m"), "--data", str(bad)], capsys)
    assert code == 2 and f"{bad}:3: expected 2 columns with an integer label" in err and "SSN" not in err


def test_length_batches_group_equal_lengths_only() -> None:
    assert length_batches([3, 5, 3, 3, 5, 4], 2) == [[0, 2], [3], [5], [1, 4]]
    assert length_batches([7, 7, 7], 8) == [[0, 1, 2]]
    assert length_batches([2, 2], 1) == [[0], [1]]
    with pytest.raises(ValueError):
        length_batches([2], 0)


def test_batched_passes_give_each_text_its_own_logits_in_input_order(folders: dict[str, Path]) -> None:
    """Equal-length texts share a pass; each text still gets the logits of its own plaintext forward,
    returned in input order, and a pass's cost is split over its texts."""
    model, tokenizer = load_classifier(folders["teacher"])
    texts = ["a good film", "a bad film", "the worst", "a good film", "so bad it is good"]
    ids = [tokenizer(t)["input_ids"] for t in texts]
    assert len({len(s) for s in ids}) < len(ids)  # some lengths repeat, so some passes are shared
    with torch.no_grad():
        plain = [model(input_ids=torch.tensor([s])).logits[0] for s in ids]
    factory = lambda: BertForSequenceClassification._from_config(model.config, attn_implementation="eager")  # noqa: E731
    program = classify_many_program(factory, model.state_dict(), ids, batch_size=4)
    out = run_local(program, frac_bits=16).results[CLIENT]
    expected_batch = {i: len(b) for b in length_batches([len(s) for s in ids], 4) for i in b}
    assert [r["batch"] for r in out] == [expected_batch[i] for i in range(len(ids))]
    for r, ref in zip(out, plain):
        assert torch.allclose(torch.tensor(r["logits"]), ref, atol=0.05)
    assert max(r["batch"] for r in out) > 1
    assert all(r["rounds"] > 0 for r in out)
