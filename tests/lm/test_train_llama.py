"""``train-lm --arch llama`` on a tiny delexicalised fixture: a LlamaForCausalLM (GQA, rotary, RMSNorm, gated
SiLU MLP, tied embeddings) saved like the GPT-2 one, that everything loading a trained model runs: plaintext
generation, ``evaluate`` (plaintext and --mpc), ``privformers.generation.generate`` and ``privformers generate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from privformers.cli import main
from privformers.lm import generate_texts
from privformers.lm.delex import DELEX_FILE, load_delex
from privformers.lm.generate import greedy_continue
from tests.cli_helpers import run_cli
from tests.delex_helpers import UNSEEN, write_delex_data

VALUE = "Blue Spice"
SPLIT = ["--validation-fraction", "0.125", "--test-fraction", "0.125"]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One layer, hidden 32, 4 query heads sharing 2 key/value heads; trained through the command line."""
    folder = tmp_path_factory.mktemp("llama")
    data = write_delex_data(folder / "data.csv")
    out = folder / "model"
    assert main(["train-lm", "--arch", "llama", "--data", str(data), "--out", str(out), "--delex", "name",
                 "--vocab-size", "300", "--layers", "1", "--hidden", "32", "--heads", "4", "--context", "64",
                 "--dropout", "0", "--epochs", "6", "--batch-size", "8", "--warmup-steps", "2", "--eval-every", "6",
                 "--lr", "1e-2", *SPLIT]) == 0
    return out


def test_saves_a_llama_like_the_gpt2_one(llama: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(llama)
    tokenizer = AutoTokenizer.from_pretrained(llama)
    config = model.config
    assert config.model_type == "llama" and config.vocab_size == len(tokenizer)
    assert (config.num_attention_heads, config.num_key_value_heads, config.intermediate_size) == (4, 2, 96)
    assert config.max_position_embeddings == 64 and config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    summary = json.loads((llama / "training_args.json").read_text())
    assert summary["arch"] == "llama" and summary["config"]["shape"]["arch"] == "llama"
    assert (llama / DELEX_FILE).is_file() and set(load_delex(llama).slots) == {"name"}
    [text] = generate_texts(model, tokenizer, [UNSEEN], max_new_tokens=4, progress=False)
    assert text.startswith(f"{VALUE} is"), text


def _evaluate(model: Path, data: Path, capsys, *extra: str) -> dict:
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--split", "test", *SPLIT,
                 "--max-new-tokens", "5", "--metrics", "bleu,chrf++", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_in_plaintext(llama: Path, capsys) -> None:
    report = _evaluate(llama, llama.parent / "data.csv", capsys)
    assert report["sources"] == 2 and set(report["scores"]) == {"bleu", "chrf++"}


@pytest.mark.slow   # three party processes: about a minute on the shared 2-core machine
def test_evaluate_under_mpc_equals_plaintext(llama: Path, tmp_path: Path, capsys) -> None:
    data = llama.parent / "data.csv"
    plain = _evaluate(llama, data, capsys, "--hypotheses-out", str(tmp_path / "plain.txt"))
    mpc = _evaluate(llama, data, capsys, "--mpc", "--hypotheses-out", str(tmp_path / "mpc.txt"))
    assert (tmp_path / "mpc.txt").read_text() == (tmp_path / "plain.txt").read_text()
    assert mpc["scores"] == plain["scores"] and mpc["sources"] == 2 and mpc["mpc"]["prompts"] == 2


def test_private_generation_equals_plaintext_greedy(llama: Path) -> None:
    """The API with the parties as threads, two prompts of different lengths (each length public: Llama
    has no padded batches), against plaintext greedy with the KV cache."""
    from privformers.generation import InProcess, MpcOptions, generate

    prompts = [UNSEEN + " =", "name[Zizzi], area[city centre] ="]
    out = generate(llama, prompts, GenerationConfig(max_new_tokens=3, eos_token_id=[]), parties=InProcess(),
                   options=MpcOptions(lengths_public=True))
    model = AutoModelForCausalLM.from_pretrained(llama).eval()
    tokenizer = AutoTokenizer.from_pretrained(llama)
    delex = load_delex(llama)
    for prompt, got in zip(prompts, out.token_ids):
        ids = tokenizer(delex.prompt(prompt).text)["input_ids"]   # what the client sends
        assert got == greedy_continue(model, ids, eos_token_id=-1, max_new_tokens=3)
    assert out.texts[0].lstrip().startswith(f"{VALUE} is") and out.texts[1].lstrip().startswith("Zizzi is")


@pytest.mark.slow   # three party processes, as the previous one
def test_generate_command_checks_against_plaintext(llama: Path, capsys) -> None:
    assert main(["generate", "--model", str(llama), "--prompt", UNSEEN + " =", "--max-new-tokens", "3", "--json",
                 "--check"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tokens"] == report["plaintext_tokens"] and report["text"].lstrip().startswith(f"{VALUE} is")


def test_train_lm_refuses_a_bad_llama_shape(tmp_path: Path, capsys) -> None:
    data = write_delex_data(tmp_path / "data.csv")
    base = ["train-lm", "--data", str(data), "--out", str(tmp_path / "out")]
    for extra, reason in ((["--kv-heads", "2"], "--kv-heads and --intermediate are for --arch llama"),
                          (["--arch", "llama", "--heads", "4", "--kv-heads", "3"],
                           "4 heads are not a multiple of the 3 key/value heads"),
                          (["--arch", "llama", "--hidden", "30", "--heads", "4"], "not a multiple of the 4 heads")):
        code, _, err = run_cli(base + extra, capsys)
        assert code == 1 and reason in err, err
    assert not (tmp_path / "out").exists()
