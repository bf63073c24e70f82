"""Checks shared by the DCF tests: what one party's share alone looks like."""

from __future__ import annotations

import numpy as np
from scipy.stats import chisquare


def assert_share_looks_uniform(y: np.ndarray, below: np.ndarray, plain: np.ndarray) -> None:
    """One party's share y is uniform (chi-square on the low byte) on both sides of the threshold
    (``below`` marks x < alpha), never equals the plain result, and its low bit does not track it."""
    for sel in (below, ~below):
        counts = np.bincount((y[sel] & np.uint64(0xFF)).astype(np.int64), minlength=256)
        assert chisquare(counts).pvalue > 1e-5
    assert np.mean(y == plain) < 0.01
    assert abs(np.mean((y & np.uint64(1)) == plain) - 0.5) < 0.03
