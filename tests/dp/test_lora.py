"""LoRA adapters under the privacy engine: clipped sums equal a per-example loop; checkpoints are plain models."""

from __future__ import annotations

import pytest
import torch

from privformers.dp.clipping import CLIPPING_MODES
from tests.dp._tiny_models import make
from tests.dp.test_engine import check_against_loop

pytest.importorskip("peft")

from privformers.dp.lora import add_lora, merged  # noqa: E402


def _lora(family: str):
    model, loss_fn = make(family)
    targets = {"bert": r".*\.(query|value)$", "llama": r".*\.(q_proj|v_proj)$"}.get(family, r".*\.c_attn$")
    task = "classification" if family == "bert" else "lm"
    model = add_lora(model, 2, targets=targets, task=task).double()
    torch.manual_seed(3)
    with torch.no_grad():  # B starts at zero in LoRA; random values make every adapter gradient non-zero
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.3)
    return model, loss_fn


@pytest.mark.parametrize("mode", CLIPPING_MODES)
@pytest.mark.parametrize("family", ["bert", "gpt2-tied", "llama"])
def test_lora_clipped_sum_matches_per_example_loop(family: str, mode: str) -> None:
    model, loss_fn = _lora(family)
    trained = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n or "classifier" in n for n in trained)
    check_against_loop(model, loss_fn, mode)


def test_merged_copy_is_a_plain_model_with_the_same_outputs() -> None:
    model, _ = _lora("bert")
    ids = torch.randint(1, 50, (2, 5), generator=torch.Generator().manual_seed(0))
    plain = merged(model)
    assert not any("lora_" in n for n, _ in plain.named_parameters())
    assert type(plain).__name__ == "BertForSequenceClassification"
    torch.testing.assert_close(plain(input_ids=ids).logits, model(input_ids=ids).logits)
    assert any("lora_" in n for n, _ in model.named_parameters())  # the trained model is left as it was


def test_bad_rank_and_targets_raise() -> None:
    model, _ = make("bert")
    with pytest.raises(ValueError, match="rank"):
        add_lora(model, 0)
    with pytest.raises(ValueError, match="lora-targets"):
        add_lora(make("bert")[0], 2, targets=r"nothing_matches_this$")
