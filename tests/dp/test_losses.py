"""Per-example losses are 1-D and ignore label -100."""

from __future__ import annotations

import pytest
import torch

from privformers.dp.losses import per_example_loss


def test_lm_loss_ignores_masked_positions():
    logits = torch.randn(2, 4, 5)
    labels = torch.tensor([[1, 2, 3, 4], [1, 2, -100, -100]])
    loss = per_example_loss(logits, labels)
    assert loss.shape == (2,)
    expected = torch.nn.functional.cross_entropy(logits[1, :1], labels[1, 1:2])
    torch.testing.assert_close(loss[1], expected)


def test_classification_loss_and_errors():
    assert per_example_loss(torch.randn(3, 2), torch.tensor([0, 1, 1])).shape == (3,)
    with pytest.raises(ValueError):
        per_example_loss(torch.randn(3, 2), torch.tensor([0, 1]))
