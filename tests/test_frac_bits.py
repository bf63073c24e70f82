"""The --frac-bits argument type (privformers.cli.argtypes)."""

from __future__ import annotations

import argparse

import pytest

from privformers.cli.argtypes import frac_bits
from privformers.mpc.ring import MAX_FRAC_BITS, MIN_FRAC_BITS


def test_frac_bits_accepts_the_ring_range_only() -> None:
    assert (MIN_FRAC_BITS, MAX_FRAC_BITS) == (8, 30)
    assert [frac_bits(t) for t in ("8", "16", " 30 ")] == [8, 16, 30]
    for text in ("7", "31", "x", "", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"a whole number from 8 to 30, got {text!r}"):
            frac_bits(text)
