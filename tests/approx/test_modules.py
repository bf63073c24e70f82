"""Each approximation against its formula, worked by hand on small inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privformers.approx import (
    AffineLayerNorm,
    CubicReLUSoftmax,
    MergeModule,
    QuadGELU,
    ReciprocalMLP,
    TwoQuadSoftmax,
    TwoReLUSoftmax,
)
from privformers.approx.masks import causal_keep, keep_from_additive


def test_quad_gelu_values() -> None:
    x = torch.tensor([-2.0, 0.0, 2.0, 4.0])
    # 0.125 x^2 + 0.25 x + 0.5 at -2, 0, 2, 4
    assert torch.allclose(QuadGELU()(x), torch.tensor([0.5, 0.5, 1.5, 3.5]))


def test_two_quad_softmax_values_and_mask() -> None:
    scores = torch.tensor([[0.0, 1.0, -5.0]])
    assert torch.allclose(TwoQuadSoftmax()(scores), torch.tensor([[25 / 61, 36 / 61, 0.0]]))
    keep = torch.tensor([[True, False, True]])
    assert torch.allclose(TwoQuadSoftmax()(scores, keep), torch.tensor([[1.0, 0.0, 0.0]]))
    assert torch.allclose(TwoQuadSoftmax(c=1.0)(scores), torch.tensor([[1 / 21, 4 / 21, 16 / 21]]))


def test_two_relu_softmax_values_and_empty_row() -> None:
    scores = torch.tensor([[1.0, 3.0, -2.0], [-1.0, -2.0, -3.0]])
    out = TwoReLUSoftmax()(scores)
    assert torch.allclose(out[0], torch.tensor([0.25, 0.75, 0.0]))
    assert torch.equal(out[1], torch.zeros(3))  # no positive score: zeros, not 0/0
    assert torch.allclose(TwoReLUSoftmax()(scores[:1], torch.tensor([[False, True, True]])), torch.tensor([0.0, 1, 0]))


def test_reciprocal_mlp_interpolates_one_over_m() -> None:
    g = ReciprocalMLP()
    knots = torch.tensor([[2.0 ** (k / 2)] for k in range(-6, 17)])
    with torch.no_grad():
        assert torch.allclose(g(knots), 64 / knots, rtol=1e-5)
        m = torch.linspace(0.13, 250, 2000)[:, None]
        assert ((g(m) - 64 / m).abs() * m / 64).max() < 0.05  # within 5% between knots
        assert torch.allclose(g(torch.tensor([[0.01], [1000.0]])), torch.tensor([[512.0], [0.25]]))  # flat outside


def test_cubic_relu_softmax_formula() -> None:
    sm = CubicReLUSoftmax()
    scores = torch.tensor([[0.0, 2.0, -4.0, 6.0]])  # e = ReLU((x/2 + 1)^3) = 1, 8, 0, 64; mean 73/4
    e = torch.tensor([[1.0, 8.0, 0.0, 64.0]])
    with torch.no_grad():
        g = sm.normaliser(torch.tensor([[73 / 4]]))
        assert torch.allclose(sm(scores), e * g / (4 * 64))
        assert torch.allclose(sm(scores), e / 73, rtol=0.05)  # g starts near 1/mean: close to e / sum(e)
        keep = torch.tensor([[True, True, True, False]])  # mean over the 3 kept: 3
        assert torch.allclose(sm(scores, keep), e * keep * sm.normaliser(torch.tensor([[3.0]])) / (3 * 64))
    assert sum(p.numel() for p in sm.parameters()) == 2 * 22 + 22 * 22 + 22 + 22 + 1  # 1 -> 22 -> 22 -> 1


def test_affine_layer_norm_takes_gamma_and_beta() -> None:
    ln = nn.LayerNorm(4)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        ln.bias.copy_(torch.tensor([0.5, 0.0, -0.5, 1.0]))
    x = torch.randn(2, 3, 4)
    assert torch.allclose(AffineLayerNorm.from_norm(ln)(x), x * ln.weight + ln.bias)


def test_merge_module_variants_with_ones() -> None:
    mm = MergeModule(heads=2, max_len=6, variant="masked")
    value = torch.randn(1, 2, 4, 3)
    keep = causal_keep(0, 4, 4)
    out, w = mm(value, 0, 4, keep)
    uniform = torch.tril(torch.ones(4, 4)) / torch.arange(1, 5)[:, None]  # row i: 1/(i+1) on j <= i
    assert torch.allclose(w, uniform.expand(1, 2, 4, 4))
    assert torch.allclose(out, w @ value)
    mm.variant = "zeroed"
    out, w = mm(value, 0, 4, keep)
    assert torch.allclose(w, (torch.tril(torch.ones(4, 4)) / 6).expand(1, 2, 4, 4))  # softmax over all 6, then 0s
    assert torch.allclose(out, w @ value)


def test_merge_module_learned_rows_and_decode_offset() -> None:
    mm = MergeModule(heads=1, max_len=5, variant="masked")
    with torch.no_grad():
        mm.M[0, 3, :4] = torch.tensor([0.0, 1.0, 2.0, 3.0])
    value = torch.randn(1, 1, 4, 2)
    _, w = mm(value, 3, 1, causal_keep(3, 1, 4))  # one query at position 3 (a decode step)
    assert torch.allclose(w[0, 0, 0], torch.softmax(torch.tensor([0.0, 1.0, 2.0, 3.0]), 0))
    mm.variant = "zeroed"
    _, w = mm(value, 3, 1, causal_keep(3, 1, 4))
    assert torch.allclose(w[0, 0, 0], torch.softmax(torch.tensor([0.0, 1.0, 2.0, 3.0, 1.0]), 0)[:4])
    with pytest.raises(ValueError, match="max length"):
        mm(torch.randn(1, 1, 6, 2), 0, 6, None)


def test_keep_from_additive_mask() -> None:
    mask = torch.tensor([0.0, torch.finfo(torch.float32).min, 0.0])
    assert keep_from_additive(mask).tolist() == [True, False, True]
    assert keep_from_additive(None) is None


def test_modules_train() -> None:
    """Gradients reach every learned parameter (the approximations are trainable in plaintext)."""
    sm, mm = CubicReLUSoftmax(), MergeModule(2, 4, "masked")
    loss = sm(torch.randn(2, 3, 4)).sum() + mm(torch.randn(1, 2, 4, 3), 0, 4, causal_keep(0, 4, 4))[0].pow(2).sum()
    loss.backward()
    assert all(p.grad is not None for p in [*sm.parameters(), *mm.parameters()])
