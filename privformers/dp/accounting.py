"""Privacy accounting with Google's dp-accounting library (RDP and PLD); nothing hand-written.

Training is described as a privacy event, ``T`` self-compositions of a Poisson-subsampled
Gaussian mechanism with sampling rate ``q`` and noise multiplier ``sigma``; an accountant of the
chosen kind interprets the event. Neighbouring datasets differ by adding or removing one example.

RDP: the Renyi divergence of the Poisson-subsampled Gaussian at each order comes from
``prv-accountant`` (Microsoft's port of TF Privacy's exact series: the *signed* binomial series at
fractional orders, as the reference private-transformers and Opacus use). The orders are
private-transformers' (and prv-accountant's) default grid, 1.1, 1.2, ..., 10.9 then 12, 13, ..., 63,
plus 11 and the large orders 128, 256, 512 (which only matter for very small epsilons). RDP is
converted to (epsilon, delta) with dp-accounting's ``compute_epsilon``: the improved bound of
Canonne, Kamath and Steinke / Asoodeh et al., ``eps = min_a rdp(a) + log(1 - 1/a) - log(delta * a) / (a - 1)``,
the same conversion as the reference's ``eps_from_rdp`` (not the classic ``rdp - log(delta)/(a-1)``,
which gives 8.074 instead of 7.329 for q = 0.04, sigma = 1.5, 2250 steps, delta = 1e-5).

Why not dp-accounting's own ``RdpAccountant`` for the per-order values: from 0.4.4 on it bounds
``A_alpha`` at fractional orders by the sum of the *absolute values* of the series, a valid but
looser bound (7.32933 rather than the exact 7.32911 at the reference's optimal order 3.9).
``rdp_epsilon_and_order(..., backend="dp-accounting")`` still gives that bound, and the tests check
the two agree to 3e-4. PLD: ``dp_accounting.pld.PLDAccountant`` with value discretisation 1e-3.
"""

from __future__ import annotations

import contextlib

import numpy as np
from absl import logging as absl_logging
from dp_accounting import dp_event, pld, rdp
from dp_accounting.rdp import rdp_privacy_accountant
from prv_accountant.privacy_random_variables import PoissonSubsampledGaussianMechanism
from scipy import optimize

ACCOUNTING_MODES = ("rdp", "pld", "all")
# private-transformers' DEFAULT_ALPHAS (also prv-accountant's RDP default): fine below 11, integers above.
REFERENCE_ORDERS = tuple(1 + x / 10.0 for x in range(1, 100)) + tuple(range(12, 64))
RDP_ORDERS = REFERENCE_ORDERS + (11, 128, 256, 512)


def training_event(sample_rate: float, noise_multiplier: float, steps: int) -> dp_event.DpEvent:
    """The DP event of ``steps`` Poisson-subsampled Gaussian steps."""
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample rate must be in (0, 1], got {sample_rate}")
    if noise_multiplier < 0:
        raise ValueError(f"noise multiplier must be >= 0, got {noise_multiplier}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    step = dp_event.PoissonSampledDpEvent(sample_rate, dp_event.GaussianDpEvent(noise_multiplier))
    return dp_event.SelfComposedDpEvent(step, steps)


def epsilon(sample_rate: float, noise_multiplier: float, steps: int, delta: float,
            mode: str = "rdp") -> float:
    """Epsilon spent after ``steps`` steps at ``delta`` under the ``rdp`` or ``pld`` accountant."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if noise_multiplier == 0:
        return float("inf")
    if mode == "rdp":
        return rdp_epsilon_and_order(sample_rate, noise_multiplier, steps, delta)[0]
    if mode != "pld":
        raise ValueError(f"accounting mode must be 'rdp' or 'pld', got {mode!r}")
    accountant = pld.PLDAccountant(value_discretization_interval=1e-3)
    accountant.compose(training_event(sample_rate, noise_multiplier, steps))
    return float(accountant.get_epsilon(delta))


def rdp_epsilon_and_order(sample_rate: float, noise_multiplier: float, steps: int, delta: float,
                          backend: str = "prv-accountant") -> tuple[float, float]:
    """RDP epsilon at ``delta`` and the Renyi order that attains it (over ``RDP_ORDERS``).

    ``backend`` picks who computes the per-order RDP: ``prv-accountant`` (exact series, the
    default) or ``dp-accounting`` (its absolute-value bound at fractional orders, a little looser).
    """
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    training_event(sample_rate, noise_multiplier, steps)  # validates the arguments
    if noise_multiplier == 0:
        return float("inf"), float("nan")
    if backend == "dp-accounting":
        accountant = rdp.RdpAccountant(RDP_ORDERS)
        with _quiet_absl():  # orders whose series does not converge (small sigma) are dropped, with a warning each
            accountant.compose(training_event(sample_rate, noise_multiplier, steps))
        eps, order = accountant.get_epsilon_and_optimal_order(delta)
        return float(eps), float(order)
    if backend != "prv-accountant":
        raise ValueError(f"RDP backend must be 'prv-accountant' or 'dp-accounting', got {backend!r}")
    mechanism = PoissonSubsampledGaussianMechanism(sampling_probability=sample_rate,
                                                   noise_multiplier=noise_multiplier)
    with np.errstate(all="ignore"):
        per_step = np.array([_rdp_or_inf(mechanism, order) for order in RDP_ORDERS])
    total = np.where(np.isfinite(per_step), per_step * steps, np.inf)
    eps, order = rdp_privacy_accountant.compute_epsilon(RDP_ORDERS, total, delta)
    return float(eps), float(order)


def _rdp_or_inf(mechanism: PoissonSubsampledGaussianMechanism, order: float) -> float:
    """One order's RDP; an order whose series overflows or fails counts as infinite (never used)."""
    try:
        value = float(mechanism.rdp(order))
    except (OverflowError, ValueError, FloatingPointError):
        return float("inf")
    return value if np.isfinite(value) and value >= 0 else float("inf")


@contextlib.contextmanager
def _quiet_absl():
    """Silence dp-accounting's per-order absl warnings (the dropped orders only loosen the bound)."""
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


def noise_multiplier_for_epsilon(target_epsilon: float, sample_rate: float, steps: int, delta: float,
                                 mode: str = "rdp", tolerance: float = 0.01) -> float:
    """Smallest noise multiplier (to ``tolerance`` in epsilon) whose epsilon is <= target."""
    if target_epsilon <= 0:
        raise ValueError(f"target epsilon must be > 0, got {target_epsilon}")
    gap = lambda sigma: epsilon(sample_rate, sigma, steps, delta, mode) - target_epsilon
    high = 1.0
    while gap(high) > 0:
        high *= 2
        if high > 1e4:
            raise ValueError("no noise multiplier below 1e4 reaches the target epsilon")
    low = high / 2
    while gap(low) <= 0 and low > 1e-3:
        low /= 2
    sigma = optimize.brentq(gap, low, high, xtol=1e-6, rtol=1e-9)
    while gap(sigma) > 0:  # make sure we land on the private side of the target
        sigma *= 1.0001
    if abs(gap(sigma)) > tolerance:
        raise RuntimeError(f"noise search ended {gap(sigma):.4f} away from the target epsilon")
    return float(sigma)
