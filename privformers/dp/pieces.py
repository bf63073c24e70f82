"""Per-example gradient pieces: what one layer call contributes to one parameter's gradient.

A piece never materialises per-example gradients unless asked. ``OuterPiece`` keeps the factors
of ``G_b = sum_t left[b, t] (x) right[b, t]`` (Linear, Conv1D, Conv2d, Embedding weights), so
norms can be taken with Gram matrices (ghost clipping) and clipped sums assembled directly
(book-keeping). ``DensePiece`` holds small per-example gradients (biases, norm scales) as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class OuterPiece:
    """Per-example gradient ``sum_t left[b,t] (x) right[b,t]`` reshaped to ``shape``.

    ``left`` is (B, T, m), or (B, T) integer row indices when ``left_size`` is set (one-hot rows of
    width ``left_size``, as for embeddings); ``right`` is (B, T, n); ``m * n`` equals numel(shape).
    """

    left: Tensor
    right: Tensor
    shape: torch.Size
    left_size: int | None = None

    @property
    def steps(self) -> int:
        """Number of positions T summed over."""
        return self.right.shape[1]

    @property
    def rows(self) -> int:
        """Width m of the left factor."""
        return self.left_size if self.left_size is not None else self.left.shape[-1]

    def materialise(self) -> Tensor:
        """Per-example gradients, (B, *shape)."""
        batch, _, n = self.right.shape
        if self.left_size is None:
            out = torch.einsum("btm,btn->bmn", self.left, self.right)
        else:
            out = self.right.new_zeros(batch, self.left_size, n)
            out.scatter_add_(1, self.left.unsqueeze(-1).expand(-1, -1, n), self.right)
        return out.reshape(batch, *self.shape)

    def weighted_sum(self, weights: Tensor) -> Tensor:
        """``sum_b weights[b] G_b`` without materialising ``G_b``."""
        n = self.right.shape[-1]
        right = (self.right * weights.view(-1, 1, 1).to(self.right.dtype)).reshape(-1, n)
        if self.left_size is None:
            out = self.left.reshape(-1, self.left.shape[-1]).t() @ right
        else:
            out = right.new_zeros(self.left_size, n).index_add_(0, self.left.reshape(-1), right)
        return out.reshape(self.shape)


@dataclass
class DensePiece:
    """Per-example gradients stored as they are, (B, *shape)."""

    value: Tensor

    def materialise(self) -> Tensor:
        """Per-example gradients, (B, *shape)."""
        return self.value

    def weighted_sum(self, weights: Tensor) -> Tensor:
        """``sum_b weights[b] G_b``."""
        return torch.einsum("b...,b->...", self.value, weights.to(self.value.dtype))


Piece = OuterPiece | DensePiece


def _left_gram(a: OuterPiece, b: OuterPiece) -> Tensor:
    """(B, Ta, Tb) inner products of left factors, using indices where a factor is one-hot."""
    if a.left_size is None and b.left_size is None:
        return torch.bmm(a.left, b.left.transpose(1, 2))
    if a.left_size is not None and b.left_size is not None:
        return (a.left.unsqueeze(2) == b.left.unsqueeze(1)).to(a.right.dtype)
    if a.left_size is not None:
        return _left_gram(b, a).transpose(1, 2)
    # a dense (B, Ta, m), b indices (B, Tb): entry [s, t] = a.left[s, b.left[t]]
    index = b.left.unsqueeze(1).expand(-1, a.left.shape[1], -1)
    return a.left.gather(2, index)


def ghost_inner(a: OuterPiece, b: OuterPiece) -> Tensor:
    """Per-example <G_a, G_b> from Gram matrices of the factors (ghost clipping), shape (B,)."""
    right = torch.bmm(a.right, b.right.transpose(1, 2))
    return (_left_gram(a, b) * right).sum(dim=(1, 2))
