"""The mixed rule picks ghost norms exactly when 2 T^2 < m n."""

from __future__ import annotations

import pytest
import torch

from privformers.dp.clipping import clip_factors, squared_norms, use_ghost
from privformers.dp.pieces import DensePiece, OuterPiece


def _piece(steps, m, n):
    return OuterPiece(torch.zeros(1, steps, m), torch.zeros(1, steps, n), torch.Size([m, n]))


def test_mixed_rule_threshold():
    assert use_ghost([_piece(4, 8, 8)], "mixed")  # 32 < 64
    assert not use_ghost([_piece(8, 8, 8)], "mixed")  # 128 > 64
    assert use_ghost([_piece(8, 8, 8)], "ghost")
    assert not use_ghost([_piece(4, 8, 8)], "default")
    assert not use_ghost([DensePiece(torch.zeros(1, 3))], "ghost")


def test_clip_factors():
    f = clip_factors(torch.tensor([0.5, 2.0]), 1.0)
    assert f[0] == 1.0 and f[1] == pytest.approx(0.5, rel=1e-5)


def test_bad_mode_and_empty_recording_raise():
    with pytest.raises(ValueError, match="clipping_mode"):
        squared_norms({}, "fast")
    with pytest.raises(ValueError, match="no per-example gradients"):
        squared_norms({}, "bk")
