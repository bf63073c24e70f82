"""``privformers pipeline`` end to end on tiny models and a few real rows: the report's totals, the student
under MPC, the output folder as a model folder, resume and the refusals that protect the guarantee."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from dp_accounting import dp_event, pld, rdp
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from privformers.data.registry import read_labelled, read_pairs
from privformers.dp.accounting import RDP_ORDERS
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.models.load import from_path
from privformers.pipeline import BudgetError, Ledger, LedgerError, PhaseEvent
from privformers.pipeline.budget import PhasePlan, plan
from privformers.pipeline.overlap import row_hash
from tests.cli_helpers import run_cli, strict_loads

DATA = Path("/work/shared/data")
SST2, E2E = DATA / "sst2" / "train.tsv", DATA / "e2e" / "devset.csv"


def _tsv(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("sentence\tlabel\n")
        f.writelines(f"{r.text}\t{r.label}\n" for r in rows)
    return path


@pytest.fixture(scope="module")
def sst2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny BERT classifier with a BPE tokenizer, and private / public / held-out TSVs of SST-2 rows."""
    if not SST2.is_file():
        pytest.skip("needs the shared SST-2 data")
    tmp = tmp_path_factory.mktemp("sst2")
    rows = read_labelled("sst2", SST2)[:400]
    tokenizer = train_bpe_tokenizer([r.text for r in rows], vocab_size=300)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    return {"model": tmp / "model", "private": _tsv(tmp / "private.tsv", rows[:200]),
            "public": _tsv(tmp / "public.tsv", rows[200:300]), "eval": _tsv(tmp / "eval.tsv", rows[300:340]),
            "rows": rows}


def _sst2_args(files: dict[str, Path], out: Path) -> list[str]:
    return ["pipeline", "--task", "classification", "--model", str(files["model"]), "--private-data",
            str(files["private"]), "--public-data", str(files["public"]), "--eval-data", str(files["eval"]),
            "--out", str(out), "--delta", "1e-3", "--teacher-batch-size", "32", "--teacher-steps", "3",
            "--stage1-steps", "2", "--stage2-steps", "2", "--distill-batch-size", "8", "--check-rows", "3", "--json"]


def _dp_accounting(phases: list[dict], delta: float) -> dict[str, float]:
    """dp-accounting's RDP and PLD epsilons of the report's phases, rebuilt here from (q, sigma, steps)."""
    event = dp_event.ComposedDpEvent([dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(
        p["sample_rate"], dp_event.GaussianDpEvent(p["noise_multiplier"])), p["steps"]) for p in phases])
    out = {}
    for name, account in (("rdp", rdp.RdpAccountant(list(RDP_ORDERS))),
                          ("pld", pld.PLDAccountant(value_discretization_interval=1e-3))):
        account.compose(event)
        out[name] = account.get_epsilon(delta)
    return out


def test_public_distillation_pipeline_under_mpc(sst2: dict[str, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = run_cli([*_sst2_args(sst2, out), "--target-epsilon", "8"], capsys)
    assert code == 0, stderr
    report = strict_loads(stdout)
    privacy = report["privacy"]
    teacher, student = privacy["phases"]
    assert teacher["phase"] == "teacher" and teacher["status"] == "completed" and teacher["steps"] == 3
    assert teacher["sample_rate"] == 32 / 200
    # the student on public rows adds nothing: the total is the teacher's event alone, and it meets the target
    assert student == {"phase": "student", "data": "public", "epsilon": {"rdp": 0.0, "pld": 0.0},
                       "note": student["note"]}
    assert privacy["total_epsilon"] == teacher["epsilon"] == teacher["epsilon_total_after"]
    assert privacy["total_epsilon"]["rdp"] == pytest.approx(_dp_accounting([teacher], 1e-3)["rdp"], rel=1e-9)
    assert 7.99 <= privacy["total_epsilon"]["rdp"] <= 8.0 and privacy["private"] is True
    # the check: the student under MPC agrees with itself in plaintext, with a cost per row
    q = report["quality"]
    assert q["rows"] == 3 and q["heldout_rows"] == 40
    assert q["student"]["mpc_plaintext_agreement"] == 1.0 and q["student"]["max_abs_logit_error"] < 0.05
    assert q["student"]["rounds_per_row"] > 0 and "mpc_accuracy" not in q["teacher"]
    # OUT is the student's model folder: the runtime's loader (classify, generate, serve) takes it as it is
    spec = from_path(out)
    assert spec.recipe.name == "mpcformer-quad-2quad" and spec.factory() is not None
    assert (out / "teacher" / "final" / "config.json").is_file()
    assert json.loads((out / "pipeline_report.json").read_text())["privacy"] == privacy
    assert "total epsilon" in (out / "pipeline_report.txt").read_text()
    ledger = json.loads((out / "privacy_ledger.json").read_text())
    assert [e["phase"] for e in ledger["entries"]] == ["teacher"] and ledger["rows"] == 200

    # resuming the finished run re-checks and re-reports; it spends nothing new
    code, stdout, stderr = run_cli([*_sst2_args(sst2, out), "--target-epsilon", "8", "--resume", "--no-mpc"], capsys)
    assert code == 0, stderr
    assert strict_loads(stdout)["privacy"]["total_epsilon"] == privacy["total_epsilon"]
    assert len(json.loads((out / "privacy_ledger.json").read_text())["entries"]) == 1


def test_overlapping_public_rows_are_refused_without_quoting_them(sst2: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    rows = sst2["rows"]
    leaky = _tsv(tmp_path / "public.tsv", [*rows[200:210], rows[5], rows[7]])   # two private rows inside
    files = {**sst2, "public": leaky}
    code, stdout, stderr = run_cli([*_sst2_args(files, tmp_path / "out"), "--target-epsilon", "8"], capsys)
    assert code == 2 and stdout == ""
    assert "2 of the 12 public rows" in stderr and "data rows 11, 12" in stderr and "--drop-overlap" in stderr
    assert rows[5].text not in stderr and rows[7].text not in stderr
    assert not (tmp_path / "out").exists()      # refused before anything was written or trained
    # held-out rows are checked the same way
    files = {**sst2, "eval": _tsv(tmp_path / "eval.tsv", [rows[3]])}
    code, _, stderr = run_cli([*_sst2_args(files, tmp_path / "out"), "--target-epsilon", "8"], capsys)
    assert code == 2 and "1 of the 1 held-out rows" in stderr and rows[3].text not in stderr


def test_a_resume_that_would_reuse_the_private_data_uncounted_is_refused(sst2: dict[str, Path], tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    hashes = [row_hash(r) for r in sst2["rows"][:200]]
    # a run that died in phase 1: its event was recorded before it touched the data
    Ledger.open(out, hashes, True, 1e-3, resume=False).record(PhaseEvent("teacher", 32 / 200, 0.45, 3), 200)
    code, _, stderr = run_cli([*_sst2_args(sst2, out), "--target-epsilon", "8"], capsys)
    assert code == 2 and "pass --resume" in stderr
    code, _, stderr = run_cli([*_sst2_args(sst2, out), "--target-epsilon", "8", "--resume"], capsys)
    assert code == 2 and "already spend epsilon 9.917" in stderr     # the dead attempt spent the budget (RDP)
    # control: counting the dead attempt, a larger total leaves room for the teacher again
    dead = Ledger.load(out / "privacy_ledger.json").events()
    assert plan(16.0, 1e-3, "rdp", [PhasePlan("teacher", 32 / 200, 3, 32)], dead).noise_multiplier("teacher") < 1
    # what is left of a nearly spent budget needs more noise than the phase's expected batch: refused
    nearly = [PhaseEvent("teacher", 32 / 200, 0.5033, 3)]              # epsilon 7.9995 of 8
    with pytest.raises(BudgetError, match="no noise multiplier up to 8 brings"):
        plan(8.0, 1e-3, "rdp", [PhasePlan("teacher", 32 / 200, 3, 8)], nearly)
    # other private data in the same folder is refused
    other = _tsv(tmp_path / "other.tsv", sst2["rows"][:199])   # one row fewer
    code, _, stderr = run_cli([*_sst2_args({**sst2, "private": other}, out), "--target-epsilon", "16", "--resume"],
                              capsys)
    assert code == 2 and "private data differs" in stderr
    with pytest.raises(LedgerError):
        Ledger.open(out, hashes, False, None, resume=True)


def test_budget_options_that_contradict_each_other_are_refused(sst2: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    base = _sst2_args(sst2, tmp_path / "out")
    for extra, message in (([], "give a target epsilon"),
                           (["--target-epsilon", "8", "--distill-epsilon-fraction", "0.5"], "spends no privacy"),
                           (["--target-epsilon", "8", "--distill-on", "private"], "needs a fraction"),
                           (["--non-private", "--target-epsilon", "8"], "drop the target epsilon"),
                           (["--target-epsilon", "8", "--delta", "0.01"], "not below 1/N"),
                           (["--target-epsilon", "8", "--distill-on", "private", "--distill-epsilon-fraction", "0.5",
                             "--recipe", "merge", "--task", "lm"], "MERGE's is not supported")):
        code, _, stderr = run_cli([*base, *extra], capsys)
        assert code == 2 and message in stderr, (extra, stderr)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny GPT-2 with a BPE tokenizer, and private / held-out E2E CSVs (different MRs)."""
    if not E2E.is_file():
        pytest.skip("needs the shared E2E data")
    tmp = tmp_path_factory.mktemp("e2e")
    pairs = read_pairs("e2e", E2E)[:300]
    tokenizer = train_bpe_tokenizer([p.source + " = " + p.target for p in pairs], vocab_size=300)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=len(tokenizer), n_positions=128,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    with E2E.open(newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))[:300]
    files = {"model": tmp / "model"}
    for name, part in (("private", raw[:150]), ("eval", raw[250:300])):
        with (tmp / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["mr", "ref"])
            writer.writerows((r["mr"], r["ref"]) for r in part)
        files[name] = tmp / f"{name}.csv"
    return files


@pytest.mark.slow   # about a minute on a quiet 2-core machine; test_budget checks the composition itself
def test_private_distillation_composes_with_the_teacher(e2e: dict[str, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """The student on the private rows with DP-SGD: two ledger events, their composition is the total (RDP and
    PLD), calibrated with PLD to the target; the student generates under MPC and loads for ``generate``."""
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        ["pipeline", "--task", "lm", "--model", str(e2e["model"]), "--private-data", str(e2e["private"]),
         "--eval-data", str(e2e["eval"]), "--out", str(out), "--target-epsilon", "8", "--delta", "1e-3",
         "--accountant", "pld", "--teacher-batch-size", "32", "--teacher-steps", "3", "--distill-on", "private",
         "--distill-epsilon-fraction", "0.25", "--stage1-steps", "2", "--stage2-steps", "2",
         "--distill-batch-size", "16", "--check-rows", "1", "--max-new-tokens", "2", "--json"], capsys)
    assert code == 0, stderr
    report = strict_loads(stdout)
    privacy = report["privacy"]
    teacher, student = privacy["phases"]
    assert (teacher["phase"], student["phase"], student["data"], student["steps"]) == ("teacher", "student",
                                                                                      "private", 4)
    reference = _dp_accounting([teacher, student], 1e-3)
    for name in ("rdp", "pld"):
        assert privacy["total_epsilon"][name] == pytest.approx(reference[name], rel=1e-9)
    assert 7.99 <= privacy["total_epsilon"]["pld"] <= 8.0
    assert teacher["epsilon"]["pld"] <= 6.0 + 1e-9                 # the teacher's share, (1 - 0.25) * 8
    assert privacy["total_epsilon"]["pld"] > teacher["epsilon"]["pld"] + 0.5   # the student's phase counted
    assert [e["phase"] for e in json.loads((out / "privacy_ledger.json").read_text())["entries"]] == [
        "teacher", "student"]
    assert "mpc" in report["quality"]["student"] and report["quality"]["sources"] == 1
    # generate loads OUT directly (three parties as threads here)
    from transformers import GenerationConfig

    from privformers.generation import InProcess, generate

    result = generate(out, "name[Zizzi], eatType[pub] =", GenerationConfig(max_new_tokens=2), parties=InProcess())
    assert len(result.token_ids[0]) == 2


def test_the_non_private_baseline_claims_no_epsilon(e2e: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    code, stdout, stderr = run_cli(
        ["pipeline", "--task", "lm", "--model", str(e2e["model"]), "--private-data", str(e2e["private"]),
         "--public-data", str(e2e["eval"]), "--out", str(tmp_path / "out"), "--non-private",
         "--teacher-batch-size", "32", "--teacher-steps", "2", "--stage1-steps", "1", "--stage2-steps", "1",
         "--json"], capsys)
    assert code == 0, stderr
    privacy = strict_loads(stdout)["privacy"]
    assert privacy["private"] is False and privacy["total_epsilon"] == {"rdp": None, "pld": None}
    assert "no epsilon bounds" in privacy["privacy"] and privacy["phases"][0]["noise_multiplier"] is None


def test_a_malformed_private_row_is_named_by_line_never_quoted(sst2: dict[str, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "private.tsv"
    bad.write_text("sentence\tlabel\na fine row\t1\nmy secret diary entry without a label\n", encoding="utf-8")
    code, stdout, stderr = run_cli([*_sst2_args({**sst2, "private": bad}, tmp_path / "out"), "--target-epsilon", "8"],
                                   capsys)
    assert code == 2 and f"{bad}:3:" in stderr and "diary" not in stderr and stdout == ""
