"""Sigmoid and tanh through exp of a non-positive argument and a reciprocal on [1, 2].

sigmoid(x) = s for x >= 0 and 1 - s for x < 0, with s = 1 / (1 + exp(-|x|)).
Domain: |x| <= 500. tanh(x) = 2 sigmoid(2x) - 1.
"""

from __future__ import annotations

from privformers.mpc.functions.exp import exp
from privformers.mpc.functions.reciprocal import reciprocal
from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.compare import ltz
from privformers.mpc.shares import AShare


def sigmoid(x: AShare) -> AShare:
    """Shares of 1 / (1 + exp(-x))."""
    fp = x.party.fp
    neg = ltz(x, 48)
    absx = x - mul(neg, x, truncate=False).lshift(1)
    s = reciprocal(exp(-absx).add_public(int(fp.encode(1.0))), lo=0, hi=1)
    # neg ? 1 - s : s  =  s + neg * (1 - 2 s)
    return s + mul(neg, (-s.lshift(1)).add_public(int(fp.encode(1.0))), truncate=False)


def tanh(x: AShare) -> AShare:
    """Shares of tanh(x) = 2 sigmoid(2x) - 1."""
    return sigmoid(x.lshift(1)).lshift(1).add_public(-int(x.party.fp.encode(1.0)))
