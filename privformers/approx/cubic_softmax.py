"""THE-X's softmax replacement: e_i = ReLU((x_i / 2 + 1)^3), normalised by a small learned network.

Our reading of THE-X (which also MERGE reproduces): the exponential becomes the cubic
(1 + x/2)^3 (a truncated (1 + x/n)^n), clipped at 0 by a ReLU, and the division by the row sum
is replaced by a small ReLU network g that is trained to output the reciprocal:

    m = (1/n) sum_j e_j   (the mean over the n kept positions)
    p_i = e_i * g(m) / n  with g(m) ~ 1/m

g is Linear(1, H) -> ReLU -> Linear(H, 1). It starts as the piecewise-linear interpolant of 1/m
on knots 2^(k/2), k = KNOTS (m in [1/8, 256]; flat outside), so p starts close to e / sum(e),
and distillation may refine it. We feed the mean rather than the sum so the knots cover the
useful range for any sequence length. Under MPC: a square, a product and a comparison per entry,
and a few products and H comparisons per row; no reciprocal protocol.
"""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

KNOTS = range(-6, 17)  # log2(knot) * 2


class ReciprocalMLP(nn.Module):
    """g(m) ~ 1/m for m > 0: Linear(1, H), ReLU, Linear(H, 1), initialised as a piecewise-linear 1/m."""

    def __init__(self, knots: list[float] | None = None) -> None:
        super().__init__()
        ks = knots or [2.0 ** (k / 2) for k in KNOTS]
        self.inner = nn.Linear(1, len(ks))
        self.outer = nn.Linear(len(ks), 1)
        slopes = [(1 / b - 1 / a) / (b - a) for a, b in zip(ks, ks[1:])] + [0.0]  # flat after the last knot
        changes = [slopes[0]] + [s - p for p, s in zip(slopes, slopes[1:])]
        with torch.no_grad():
            self.inner.weight.fill_(1.0)
            self.inner.bias.copy_(-torch.tensor(ks))
            self.outer.weight.copy_(torch.tensor([changes]))
            self.outer.bias.fill_(1 / ks[0])

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return self.outer(torch.relu(self.inner(m)))


@overridable
def cubic_relu_softmax(scores: torch.Tensor, keep: torch.Tensor | None, w1: torch.Tensor, b1: torch.Tensor,
                       w2: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """p = e * g(mean e) / n with e = ReLU((x/2 + 1)^3) (zero where not kept), g = the ReLU network (w1, b1, w2, b2)."""
    e = torch.relu(scores * 0.5 + 1.0) ** 3
    if keep is not None:
        e = e * keep
    n = kept_count(keep, scores.shape)
    m = e.sum(-1, keepdim=True) / n
    g = torch.relu(m @ w1.t() + b1) @ w2.t() + b2
    return e * (g / n)


def kept_count(keep: torch.Tensor | None, shape: torch.Size) -> torch.Tensor:
    """Public number of kept positions per row, shaped (..., 1), at least 1."""
    if keep is None:
        return torch.full((1,), float(shape[-1]))
    return keep.sum(-1, keepdim=True).clamp_min(1).to(torch.float32)


class CubicReLUSoftmax(nn.Module):
    """Attention softmax replacement: ``cubic_relu_softmax`` with its own learned normaliser."""

    def __init__(self) -> None:
        super().__init__()
        self.normaliser = ReciprocalMLP()

    def forward(self, scores: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        g = self.normaliser
        return cubic_relu_softmax(scores, keep, g.inner.weight, g.inner.bias, g.outer.weight, g.outer.bias)
