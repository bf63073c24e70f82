"""Each distillation loss term against its formula on hand-made tensors."""

from __future__ import annotations

import math

import pytest
import torch

from privformers.distill import losses


def test_hidden_mse_is_mean_over_layers_of_masked_mse() -> None:
    s = (torch.tensor([[[1.0, 2.0], [9.0, 9.0]]]), torch.tensor([[[0.0, 0.0], [5.0, 5.0]]]))
    t = (torch.tensor([[[0.0, 0.0], [0.0, 0.0]]]), torch.tensor([[[1.0, 1.0], [0.0, 0.0]]]))
    mask = torch.tensor([[1, 0]])  # the second token is padding and must not count
    # layer 0: (1 + 4) / 2 = 2.5; layer 1: (1 + 1) / 2 = 1
    assert losses.hidden_mse(s, t, mask).item() == pytest.approx(1.75)
    assert losses.hidden_mse(s, t).item() == pytest.approx(((1 + 4 + 81 + 81) / 4 + (1 + 1 + 25 + 25) / 4) / 2)
    with pytest.raises(ValueError, match="pair up"):
        losses.hidden_mse(s, t[:1])


def test_attention_mse_counts_real_query_rows() -> None:
    s = torch.zeros(1, 1, 2, 2)
    t = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])
    assert losses.attention_mse((s,), (t,)).item() == pytest.approx((1 + 0.25 + 0.25) / 4)
    assert losses.attention_mse((s,), (t,), torch.tensor([[1, 0]])).item() == pytest.approx(0.5)


def test_soft_cross_entropy() -> None:
    s, t = torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([[0.0, 0.0]])
    # target (1/2, 1/2); student probabilities (1/4, 3/4)
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert losses.soft_cross_entropy(s, t).item() == pytest.approx(expected)
    # temperature 2 divides the logits first
    p = torch.softmax(s / 2, -1)[0]
    assert losses.soft_cross_entropy(s, t, 2.0).item() == pytest.approx(-(0.5 * p.log()).sum().item())


def test_soft_kl() -> None:
    s, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 2 * math.log(3.0)]])  # tau = 2 -> target (1/4, 3/4)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert losses.soft_kl(s, t, 2.0).item() == pytest.approx(4 * kl, rel=1e-5)
    assert losses.soft_kl(t, t, 2.0).item() == pytest.approx(0.0, abs=1e-7)


def test_cosine_and_embedding_mse() -> None:
    h = torch.tensor([[[1.0, 0.0], [1.0, 1.0], [3.0, 3.0]]])
    e = torch.tensor([[[0.0, 1.0], [2.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert losses.cosine_embedding(h, e, mask).item() == pytest.approx((1 + 0) / 2, abs=1e-6)
    assert losses.embedding_mse(h, e, mask).item() == pytest.approx((1 + 1 + 1 + 1) / 4)


def test_token_cross_entropy_shifts() -> None:
    logits = torch.tensor([[[0.0, math.log(3.0)], [5.0, 5.0]]])
    labels = torch.tensor([[-100, 1]])  # logits at 0 predict label at 1
    assert losses.token_cross_entropy(logits, labels).item() == pytest.approx(-math.log(0.75))
