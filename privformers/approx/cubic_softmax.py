"""THE-X's softmax replacement: e_i = ReLU((x_i / 2 + 1)^3), normalised by a small learned network.

Our reading of THE-X (which also MERGE reproduces): the exponential becomes the cubic
(1 + x/2)^3 (a truncated (1 + x/n)^n), clipped at 0 by a ReLU, and the division by the row sum
is replaced by a small ReLU network g that is trained to output the reciprocal:

    m = (1/n) sum_j e_j   (the mean over the n kept positions)
    p_i = e_i * g(m) / (64 n)  with g(m) ~ 64/m

g is a small ReLU network (1 -> 22 -> 22 -> 1, as MERGE's reproduction uses three linear layers).
It starts as the piecewise-linear interpolant of 64/m on knots 2^(k/2), k in KNOTS (m in
[1/8, 256]; flat outside), so p starts close to e / sum(e), and distillation may refine it.
We feed the mean rather than the sum so the knots cover the useful range for any sequence
length. Under MPC: a square, a product and a comparison per entry, and three products with
server weights and 2 x 22 comparisons per row; no reciprocal protocol.
"""

from __future__ import annotations

import torch
from torch import nn

from privformers.approx.overridable import overridable

KNOTS = range(-6, 17)  # knots 2^(k/2)
OUTPUT_SCALE = 64.0  # g outputs 64/m: its weights stay well above the fixed-point resolution under MPC


class ReciprocalMLP(nn.Module):
    """g(m) ~ OUTPUT_SCALE / m for m > 0: Linear(1, H), ReLU, Linear(H, H), ReLU, Linear(H, 1), H = knots - 1.

    Initialised as the piecewise-linear interpolant on the knots k_j, flat outside them: the first
    layer gives a_j = relu(m - k_j), the second b_j = relu(w_j - a_j) (the part of segment j,
    of width w_j, that lies above m), the last g = g(k_last) + sum_j |slope_j| b_j: a sum of
    positive bounded terms, so no cancellation in float32 or in fixed point.
    """

    def __init__(self, knots: list[float] | None = None) -> None:
        super().__init__()
        ks = torch.tensor(knots or [2.0 ** (k / 2) for k in KNOTS], dtype=torch.float64)
        h = len(ks) - 1
        self.inner, self.middle, self.outer = nn.Linear(1, h), nn.Linear(h, h), nn.Linear(h, 1)
        inv, widths = OUTPUT_SCALE / ks, ks[1:] - ks[:-1]
        with torch.no_grad():
            self.inner.weight.fill_(1.0)
            self.inner.bias.copy_(-ks[:-1])
            self.middle.weight.copy_(-torch.eye(h))
            self.middle.bias.copy_(widths)
            self.outer.weight.copy_(((inv[:-1] - inv[1:]) / widths)[None])
            self.outer.bias.fill_(float(inv[-1]))

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return self.outer(torch.relu(self.middle(torch.relu(self.inner(m)))))

    def weights(self) -> tuple[torch.Tensor, ...]:
        """(w1, b1, w2, b2, w3, b3) as ``cubic_relu_softmax`` takes them."""
        return tuple(t for lin in (self.inner, self.middle, self.outer) for t in (lin.weight, lin.bias))


@overridable
def cubic_relu_softmax(scores: torch.Tensor, keep: torch.Tensor | None, w1: torch.Tensor, b1: torch.Tensor,
                       w2: torch.Tensor, b2: torch.Tensor, w3: torch.Tensor, b3: torch.Tensor) -> torch.Tensor:
    """p = e * g(mean e) / (n OUTPUT_SCALE), e = ReLU((x/2 + 1)^3) (0 where not kept), g the network (w1 ... b3)."""
    e = torch.relu(scores * 0.5 + 1.0) ** 3
    if keep is not None:
        e = e * keep
    n = kept_count(keep, scores.shape)
    m = e.sum(-1, keepdim=True) / n
    g = torch.relu(torch.relu(m @ w1.t() + b1) @ w2.t() + b2) @ w3.t() + b3
    return e * (g / (n * OUTPUT_SCALE))


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
        return cubic_relu_softmax(scores, keep, *self.normaliser.weights())
