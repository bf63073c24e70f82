"""Outer-product pieces: index and dense forms agree; ghost inner products equal materialised ones."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from privformers.dp.pieces import DensePiece, OuterPiece, ghost_inner


def _pieces():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 6, (3, 5), generator=g)
    right = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    dense_left = torch.randn(3, 7, 6, generator=g, dtype=torch.float64)
    dense_right = torch.randn(3, 7, 4, generator=g, dtype=torch.float64)
    indexed = OuterPiece(ids, right, torch.Size([6, 4]), left_size=6)
    one_hot = OuterPiece(F.one_hot(ids, 6).double(), right, torch.Size([6, 4]))
    dense = OuterPiece(dense_left, dense_right, torch.Size([6, 4]))
    return indexed, one_hot, dense


def test_index_and_one_hot_forms_agree():
    indexed, one_hot, _ = _pieces()
    torch.testing.assert_close(indexed.materialise(), one_hot.materialise())
    w = torch.tensor([0.5, 1.0, -2.0], dtype=torch.float64)
    torch.testing.assert_close(indexed.weighted_sum(w), one_hot.weighted_sum(w))
    torch.testing.assert_close(indexed.weighted_sum(w), torch.einsum("bmn,b->mn", indexed.materialise(), w))


def test_ghost_inner_matches_materialised_for_every_pairing():
    pieces = _pieces()
    for a in pieces:
        for b in pieces:
            expected = (a.materialise() * b.materialise()).flatten(1).sum(1)
            torch.testing.assert_close(ghost_inner(a, b), expected)


def test_dense_piece_weighted_sum():
    value = torch.arange(6.0).reshape(3, 2)
    assert DensePiece(value).weighted_sum(torch.tensor([1.0, 0.0, 2.0])).tolist() == [8.0, 11.0]
