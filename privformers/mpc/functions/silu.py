"""SiLU (swish), silu(x) = x sigmoid(x), the gate activation of Llama, Qwen2, Mistral and Phi-3 MLPs.

A piecewise quartic (``piecewise``): breakpoints -11, -4, -1, 1, 4, 11; least-squares quartics on the
four bounded intervals inside (each fitted 2^-5 past its ends, where coarse comparisons may put x);
0 below -11 and x above 11 (off by at most 11 / (1 + e^11) = 1.8e-4). Why not sigmoid's exp and
reciprocal: about 20 rounds against 3; why not GeLU's single even polynomial: x tanh(x / 2) is close
to |x| over the wide interval SiLU needs before it saturates, and a degree-6 fit in x^2 on [0, 8]
errs by 1e-2, where four quartics err by 1e-3.
Domain: |x| < 2^15 (at 16 fractional bits or more). Error: <= 2e-3 over [-16, 16], measured in the
tests (fit 9.3e-4, z's rounding to 2^-12 times |silu'| <= 1.1, tails 1.8e-4).
Cost: 3 rounds; per element and party 8 bytes for the comparison, 8 for the powers, 64 for the
coefficient products; 6 DCF evaluations. A linear layer's output goes in untruncated at no cost, and
the result comes out untruncated (``silu_raw``): the gated MLP's product truncates it in its opening.
"""

from __future__ import annotations

import math

import numpy as np

from privformers.mpc.functions.piecewise import WINDOW_LOG2, piecewise_raw
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.shares import AShare

BREAKPOINTS = (-11.0, -4.0, -1.0, 1.0, 4.0, 11.0)
DEGREE = 4


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _fit(a: float, b: float) -> list[float]:
    margin = 2.0 ** (WINDOW_LOG2 + 1)
    xs = np.linspace(a - margin, b + margin, 4001)
    design = np.vstack([xs**k for k in range(DEGREE + 1)]).T
    coeffs, *_ = np.linalg.lstsq(design, _silu(xs), rcond=None)
    return [float(c) for c in coeffs]


COEFFS = [[0.0], *[_fit(a, b) for a, b in zip(BREAKPOINTS, BREAKPOINTS[1:])], [0.0, 1.0]]
TAIL_ERROR = BREAKPOINTS[-1] / (1 + math.exp(BREAKPOINTS[-1]))


def silu_raw(x: AShare, pending: int = 0) -> tuple[AShare, int]:
    """(shares of silu(x) at scale 2^(f + k), k); pending: x is at scale 2^(f + pending)."""
    return piecewise_raw(x, BREAKPOINTS, COEFFS, pending)


def silu(x: AShare, pending: int = 0) -> AShare:
    """Shares of silu(x) at the working scale."""
    y, k = silu_raw(x, pending)
    return trunc(y, k)
