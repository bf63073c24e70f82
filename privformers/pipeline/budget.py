"""The pipeline's privacy budget: each private phase as a dp-accounting event, their composition, and the
noise multipliers that make the *composed* total meet the target.

A private phase is ``T`` steps of Poisson-subsampled Gaussian noise on clipped per-example gradients,
``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), T)``; a run is the
``ComposedDpEvent`` of every phase that ever touched the private data (the ledger's events, failed
attempts included). Accountants only interpret events: ``epsilon(event, delta, "rdp")`` is
dp-accounting's ``RdpAccountant`` over privformers' order grid (``privformers.dp.accounting.RDP_ORDERS``),
``"pld"`` its ``PLDAccountant`` (value discretisation 1e-3, as dp-train). Both compose heterogeneous
phases exactly as they compose one: RDP adds the per-order values, PLD convolves the privacy loss
distributions. A phase that used the data without noise is a ``NonPrivateDpEvent`` (epsilon infinite).

The budget split (``plan``): the teacher's noise is the smallest whose epsilon, composed with what the
ledger already holds, is at most ``(1 - f) * target``; the private student's noise is then the smallest
whose epsilon composed with *everything before it* is at most ``target``. Composition is sub-additive,
so the student's share of the total is a little more than ``f * target`` would suggest; the report
gives every phase alone and the composed total under both accountants.

Cost: one RDP epsilon is about 10 ms; one PLD epsilon 0.05-1 s (it grows with the noise's tail and the
number of distinct phases). A calibration is a bracketing search plus Brent's method, 20-40 epsilons.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from absl import logging as absl_logging
from dp_accounting import dp_event, pld, rdp
from scipy import optimize

from privformers.dp.accounting import RDP_ORDERS

ACCOUNTANTS = ("rdp", "pld")
PLD_DISCRETIZATION = 1e-3
MAX_NOISE_MULTIPLIER = 1000.0   # the search's end; a phase's own limit is its expected batch (see ``plan``)


class BudgetError(ValueError):
    """The phases cannot meet the privacy budget (it is already spent, or no noise level reaches it)."""


@dataclass(frozen=True)
class PhaseEvent:
    """One private phase as plain data: Poisson sampling rate, noise multiplier, steps (None: no noise)."""

    phase: str
    sample_rate: float
    noise_multiplier: float | None
    steps: int

    def __post_init__(self) -> None:
        if not 0 < self.sample_rate <= 1:
            raise ValueError(f"{self.phase}: sample rate must be in (0, 1], got {self.sample_rate}")
        if self.steps < 0:
            raise ValueError(f"{self.phase}: steps must be >= 0, got {self.steps}")
        if self.noise_multiplier is not None and not self.noise_multiplier >= 0:
            raise ValueError(f"{self.phase}: noise multiplier must be >= 0, got {self.noise_multiplier}")

    @property
    def private(self) -> bool:
        """Whether the phase added noise (a noise multiplier of 0, or none, bounds nothing)."""
        return bool(self.noise_multiplier)

    def dp_event(self) -> dp_event.DpEvent:
        """dp-accounting's description: T self-compositions of the Poisson-subsampled Gaussian."""
        if not self.private:
            return dp_event.NonPrivateDpEvent()
        step = dp_event.PoissonSampledDpEvent(self.sample_rate, dp_event.GaussianDpEvent(self.noise_multiplier))
        return dp_event.SelfComposedDpEvent(step, self.steps)


def composed(events: Sequence[PhaseEvent]) -> dp_event.DpEvent:
    """The ``ComposedDpEvent`` of phases in the order they ran."""
    return dp_event.ComposedDpEvent([e.dp_event() for e in events])


def epsilon(event: dp_event.DpEvent, delta: float, accountant: str) -> float:
    """Epsilon of ``event`` at ``delta`` (add/remove-one neighbours) under dp-accounting's RDP or PLD accountant."""
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    if accountant == "rdp":
        account = rdp.RdpAccountant(list(RDP_ORDERS))
        with _quiet_absl():   # orders whose series does not converge (small sigma) are dropped, with a warning each
            account.compose(event)
        return float(account.get_epsilon(delta))
    if accountant == "pld":
        account = pld.PLDAccountant(value_discretization_interval=PLD_DISCRETIZATION)
        account.compose(event)
        return float(account.get_epsilon(delta))
    raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")


def epsilons(events: Sequence[PhaseEvent], delta: float) -> dict[str, float]:
    """``{"rdp": eps, "pld": eps}`` of the composition of ``events`` (0 when there are none)."""
    if not events:
        return {a: 0.0 for a in ACCOUNTANTS}
    return {a: epsilon(composed(events), delta, a) for a in ACCOUNTANTS}


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


def calibrate(target: float, delta: float, sample_rate: float, steps: int, accountant: str,
              before: Sequence[PhaseEvent] = (), phase: str = "phase",
              max_noise_multiplier: float = MAX_NOISE_MULTIPLIER) -> float:
    """The smallest noise multiplier (to 1e-6 relative) whose phase, composed after ``before``, has epsilon
    <= ``target``; BudgetError when ``before`` already spends the target or no multiplier up to
    ``max_noise_multiplier`` reaches it."""
    if not target > 0:
        raise BudgetError(f"{phase}: the epsilon target must be > 0, got {target}")
    spent = epsilon(composed(before), delta, accountant) if before else 0.0
    if spent >= target:
        raise BudgetError(f"{phase}: the events before it already spend epsilon {spent:.4g} ({accountant}) of the "
                          f"{target:.4g} it may reach; nothing is left for it")

    def gap(sigma: float) -> float:
        trial = PhaseEvent(phase, sample_rate, sigma, steps)
        return epsilon(composed([*before, trial]), delta, accountant) - target

    high = min(0.5, max_noise_multiplier)
    while gap(high) > 0:
        if high >= max_noise_multiplier:
            raise BudgetError(f"{phase}: no noise multiplier up to {max_noise_multiplier:g} brings epsilon to "
                              f"{target:.4g} ({accountant}; {steps} steps at sampling rate {sample_rate:.4g}, after "
                              f"epsilon {spent:.6g} already spent): fewer steps, a lower sampling rate or a larger "
                              "budget would")
        high = min(high * 2, max_noise_multiplier)
    low = high / 2
    while gap(low) <= 0:   # bracket: gap(low) > 0 >= gap(high)
        high, low = low, low / 2
        if low < 1e-3:
            return float(high)
    sigma = optimize.brentq(gap, low, high, xtol=1e-7, rtol=1e-6)
    while gap(sigma) > 0:   # land on the private side of the target
        sigma *= 1.0001
    return float(sigma)


@dataclass(frozen=True)
class PhasePlan:
    """A private phase before its noise is known: sampling rate (expected batch over rows), steps, and
    the expected batch, which bounds its useful noise: with sigma above the expected batch B the noise
    on the averaged gradient (sigma C / B per coordinate) exceeds the clip norm C, more than any step's signal."""

    phase: str
    sample_rate: float
    steps: int
    batch_size: float | None = None


@dataclass(frozen=True)
class BudgetPlan:
    """Noise multipliers for the phases still to run, and what the whole run will have spent."""

    target_epsilon: float
    delta: float
    accountant: str
    spent_before: tuple[PhaseEvent, ...]   # the ledger's events (earlier runs and failed attempts)
    planned: tuple[PhaseEvent, ...]

    @property
    def events(self) -> tuple[PhaseEvent, ...]:
        """Every event of the finished run, in order."""
        return self.spent_before + self.planned

    def noise_multiplier(self, phase: str) -> float:
        """The calibrated noise multiplier of a planned phase."""
        for event in self.planned:
            if event.phase == phase:
                return float(event.noise_multiplier)
        raise KeyError(f"no planned phase {phase!r}")


def plan(target_epsilon: float, delta: float, accountant: str, phases: Sequence[PhasePlan],
         spent_before: Sequence[PhaseEvent] = (), student_fraction: float = 0.0) -> BudgetPlan:
    """Noise multipliers for ``phases`` (the teacher, then optionally the private student) so that the
    composition of ``spent_before`` and all planned phases has epsilon <= ``target_epsilon`` under
    ``accountant``. With two phases, the first may reach ``(1 - student_fraction) * target`` (composed
    with ``spent_before``); the last always gets what is left of the total. BudgetError when impossible: the
    target is already spent, or a phase would need a noise multiplier above its expected batch."""
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if not 0 <= student_fraction < 1:
        raise ValueError(f"the student's fraction of the budget must be in [0, 1), got {student_fraction}")
    if len(phases) == 2 and not student_fraction:
        raise ValueError("two private phases need a fraction of the budget for the second (student_fraction > 0)")
    if any(not e.private for e in spent_before):
        raise BudgetError("the ledger holds a phase that used the private data without noise: no epsilon bounds "
                          "this run any more")
    before = list(spent_before)
    planned = []
    for i, phase in enumerate(phases):
        last = i == len(phases) - 1
        target = target_epsilon if last else (1 - student_fraction) * target_epsilon
        limit = MAX_NOISE_MULTIPLIER if phase.batch_size is None else min(MAX_NOISE_MULTIPLIER, phase.batch_size)
        sigma = calibrate(target, delta, phase.sample_rate, phase.steps, accountant, before, phase.phase, limit)
        event = PhaseEvent(phase.phase, phase.sample_rate, sigma, phase.steps)
        planned.append(event)
        before.append(event)
    return BudgetPlan(target_epsilon, delta, accountant, tuple(spent_before), tuple(planned))


def finite_or_none(value: float) -> float | None:
    """Epsilon as strict JSON: an infinite epsilon (no guarantee) is null."""
    return value if math.isfinite(value) else None
