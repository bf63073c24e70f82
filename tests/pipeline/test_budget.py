"""The pipeline's budget: the composed total is dp-accounting's composition of the phases' events, the noise is
calibrated on the composed total, public distillation adds nothing, and impossible budgets are refused."""

from __future__ import annotations

import pytest
from dp_accounting import dp_event, pld, rdp

from privformers.dp.accounting import RDP_ORDERS
from privformers.dp.accounting import epsilon as dp_train_epsilon
from privformers.pipeline.budget import (
    BudgetError,
    PhaseEvent,
    PhasePlan,
    calibrate,
    composed,
    epsilon,
    epsilons,
    plan,
)

DELTA = 1e-5


def _reference(phases: list[tuple[float, float, int]], accountant: str) -> float:
    """dp-accounting on events built here from (q, sigma, steps), independently of the module under test."""
    event = dp_event.ComposedDpEvent([
        dp_event.SelfComposedDpEvent(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)
        for q, sigma, steps in phases])
    account = rdp.RdpAccountant(list(RDP_ORDERS)) if accountant == "rdp" else pld.PLDAccountant(
        value_discretization_interval=1e-3)
    account.compose(event)
    return account.get_epsilon(DELTA)


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_total_is_dp_accountings_composition_of_both_phases(accountant: str) -> None:
    budget = plan(8.0, DELTA, accountant, [PhasePlan("teacher", 0.08, 150), PhasePlan("student", 0.05, 200)],
                  student_fraction=0.25)
    teacher, student = budget.planned
    phases = [(e.sample_rate, e.noise_multiplier, e.steps) for e in budget.planned]
    totals = epsilons(budget.events, DELTA)
    for name in ("rdp", "pld"):   # the report's totals, under both accountants, are dp-accounting's composition
        assert totals[name] == pytest.approx(_reference(phases, name), rel=1e-9)
    # calibrated on the composed total: it meets the target, tightly, under the calibrating accountant
    assert 8.0 - 0.01 <= totals[accountant] <= 8.0
    # the teacher alone meets its share; the student's phase costs something on top of it
    assert epsilon(composed([teacher]), DELTA, accountant) <= 0.75 * 8.0
    assert totals[accountant] > epsilon(composed([teacher]), DELTA, accountant) + 0.5
    # negative control: neither phase alone is the total, and adding the two epsilons overstates it
    alone = [epsilon(composed([e]), DELTA, accountant) for e in (teacher, student)]
    assert max(alone) < totals[accountant] < sum(alone)


def test_public_distillation_adds_nothing() -> None:
    """With the student on public rows the plan has the teacher alone, and the whole budget is its."""
    one = plan(8.0, DELTA, "rdp", [PhasePlan("teacher", 0.08, 150)])
    assert len(one.planned) == 1 and one.events == one.planned
    totals = epsilons(one.events, DELTA)
    assert totals["rdp"] == pytest.approx(_reference([(0.08, one.noise_multiplier("teacher"), 150)], "rdp"))
    assert totals["rdp"] == pytest.approx(8.0, abs=0.01)
    # the same teacher with a private student on top: the total grows (negative control)
    two = plan(8.0, DELTA, "rdp", [PhasePlan("teacher", 0.08, 150), PhasePlan("student", 0.05, 200)],
               student_fraction=0.25)
    alone = epsilon(composed([two.planned[0]]), DELTA, "rdp")
    assert epsilons(two.events, DELTA)["rdp"] > alone + 0.5


def test_rdp_matches_dp_trains_accountant_for_one_phase() -> None:
    """One phase: dp-accounting's RDP bound is dp-train's (prv-accountant series) to 1e-3, never below it."""
    ours = epsilon(PhaseEvent("t", 0.04, 1.5, 2250).dp_event(), DELTA, "rdp")
    theirs = dp_train_epsilon(0.04, 1.5, 2250, DELTA, "rdp")
    assert theirs <= ours <= theirs + 1e-3


def test_calibrated_sigma_is_the_smallest_that_meets_the_target() -> None:
    before = [PhaseEvent("teacher", 0.1, 1.0, 50)]
    sigma = calibrate(8.0, DELTA, 0.05, 100, "pld", before, "student")
    total = lambda s: epsilon(composed([*before, PhaseEvent("student", 0.05, s, 100)]), DELTA, "pld")  # noqa: E731
    assert total(sigma) <= 8.0 < total(sigma * 0.99)


def test_a_budget_the_phases_cannot_meet_is_refused() -> None:
    spent = [PhaseEvent("teacher", 0.5, 0.6, 100)]          # already far beyond epsilon 2
    with pytest.raises(BudgetError, match="already spend epsilon"):
        plan(2.0, DELTA, "rdp", [PhasePlan("student", 0.05, 10)], spent_before=spent)
    with pytest.raises(BudgetError, match="no noise multiplier up to"):
        calibrate(1e-4, DELTA, 1.0, 10_000, "rdp", phase="teacher")
    with pytest.raises(BudgetError, match="without noise"):
        plan(8.0, DELTA, "rdp", [PhasePlan("student", 0.05, 10)],
             spent_before=[PhaseEvent("teacher", 0.05, None, 10)])
    with pytest.raises(ValueError, match="fraction"):
        plan(8.0, DELTA, "rdp", [PhasePlan("teacher", 0.05, 10), PhasePlan("student", 0.05, 10)])


def test_an_event_without_noise_has_no_finite_epsilon() -> None:
    event = PhaseEvent("teacher", 0.05, None, 10)
    assert not event.private and isinstance(event.dp_event(), dp_event.NonPrivateDpEvent)
    assert epsilons([event], DELTA) == {"rdp": float("inf"), "pld": float("inf")}
