"""Per-example gradient norms and clipped sums from recorded pieces, under each clipping mode.

- ``default``: materialise every per-example gradient, then norm and clip-sum it.
- ``ghost``: norms of outer-product pieces from Gram matrices, never materialised (Li et al. 2022).
- ``mixed``: per parameter, ghost when ``2 T^2 < m n`` (cheaper), otherwise materialise.
- ``ghost`` and ``mixed`` then take a second backward pass on the reweighted loss (as the seed);
  ``bk`` (book-keeping) uses the ``mixed`` norms and assembles clipped sums directly from the
  stored factors, with no second backward pass.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from privformers.dp.pieces import DensePiece, OuterPiece, Piece, ghost_inner

CLIPPING_MODES = ("default", "ghost", "mixed", "bk")


def use_ghost(pieces: list[Piece], mode: str) -> bool:
    """Whether this parameter's norm is taken with Gram matrices under ``mode``."""
    if mode == "default" or not all(isinstance(p, OuterPiece) for p in pieces):
        return False
    if mode == "ghost":
        return True
    steps = sum(p.steps for p in pieces)
    rows, cols = pieces[0].rows, pieces[0].right.shape[-1]
    return 2 * steps * steps < rows * cols


def squared_norms(pieces: dict[nn.Parameter, list[Piece]], mode: str) -> tuple[Tensor, dict]:
    """Per-example squared gradient norms summed over parameters, and materialised sums by param."""
    if mode not in CLIPPING_MODES:
        raise ValueError(f"clipping_mode must be one of {CLIPPING_MODES}, got {mode!r}")
    total = None
    dense: dict[nn.Parameter, Tensor] = {}
    for param, plist in pieces.items():
        if use_ghost(plist, mode):
            sq = sum(ghost_inner(a, b) * (1 if i == j else 2)
                     for i, a in enumerate(plist) for j, b in enumerate(plist) if j >= i)
        else:
            grads = plist[0].materialise()
            for piece in plist[1:]:
                grads = grads + piece.materialise()
            dense[param] = grads
            sq = grads.flatten(1).pow(2).sum(1)
        total = sq if total is None else total + sq
    if total is None:
        raise ValueError("no per-example gradients were recorded: was the loss computed with the "
                         "attached model in a grad-enabled forward pass?")
    return total, dense


def clip_factors(norms: Tensor, max_grad_norm: float) -> Tensor:
    """min(1, C / (norm + 1e-6)) per example."""
    return torch.clamp(max_grad_norm / (norms + 1e-6), max=1.0)


def clipped_sums(pieces: dict[nn.Parameter, list[Piece]], dense: dict, factors: Tensor) -> dict:
    """``sum_b factors[b] G_b`` for every parameter, from materialised sums where present."""
    out = {}
    for param, plist in pieces.items():
        if param in dense:
            out[param] = DensePiece(dense[param]).weighted_sum(factors)
        else:
            total = plist[0].weighted_sum(factors)
            for piece in plist[1:]:
                total = total + piece.weighted_sum(factors)
            out[param] = total
    return out
