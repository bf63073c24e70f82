"""Privacy accounting with Google's dp-accounting library (RDP and PLD); nothing hand-written.

Training is described as a privacy event, ``T`` self-compositions of a Poisson-subsampled
Gaussian mechanism with sampling rate ``q`` and noise multiplier ``sigma``; an accountant of the
chosen kind interprets the event. Neighbouring datasets differ by adding or removing one example.
"""

from __future__ import annotations

from dp_accounting import dp_event, pld, rdp
from scipy import optimize

ACCOUNTING_MODES = ("rdp", "pld", "all")
# Fine grid of Renyi orders below 11 (where the optimum lies for useful budgets), then integers.
RDP_ORDERS = tuple(1 + x / 10.0 for x in range(1, 100)) + tuple(range(11, 64)) + (128, 256, 512)


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
    event = training_event(sample_rate, noise_multiplier, steps)
    if mode == "rdp":
        accountant = rdp.RdpAccountant(RDP_ORDERS)
    elif mode == "pld":
        accountant = pld.PLDAccountant(value_discretization_interval=1e-3)
    else:
        raise ValueError(f"accounting mode must be 'rdp' or 'pld', got {mode!r}")
    accountant.compose(event)
    return float(accountant.get_epsilon(delta))


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
