"""Epsilon from dp-accounting against the mission's reference values, and the noise search."""

from __future__ import annotations

import pytest

from privformers.dp import accounting


def test_rdp_reference_value():
    eps, order = accounting.rdp_epsilon_and_order(0.04, 1.5, 2250, 1e-5)
    assert order == pytest.approx(3.9)  # the reference's optimal order on the same grid
    assert eps == pytest.approx(7.32911, abs=1e-4)


@pytest.mark.parametrize("args", [(0.04, 1.5, 2250, 1e-5), (0.04, 0.5, 100, 1e-5), (0.5, 0.3, 10, 1e-5),
                                  (0.001, 0.8, 5000, 1e-6), (1.0, 2.0, 10, 1e-5)])
def test_exact_rdp_never_above_dp_accountings_bound(args):
    # dp-accounting >= 0.4.4 sums absolute values of the fractional-order series: an upper bound
    exact, _ = accounting.rdp_epsilon_and_order(*args)
    bound, _ = accounting.rdp_epsilon_and_order(*args, backend="dp-accounting")
    assert exact <= bound + 1e-9
    assert bound - exact <= 5e-3 * exact


def test_rdp_rejects_an_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        accounting.rdp_epsilon_and_order(0.04, 1.5, 10, 1e-5, backend="mine")


def test_rdp_uses_the_fine_grid_of_orders():
    # order 4 alone (an integer grid) gives 7.32988 here; the 0.1-spaced grid must do better
    eps, _ = accounting.rdp_epsilon_and_order(0.04, 1.5, 2250, 1e-5)
    assert eps < 7.3297


def test_rdp_second_reference_value():
    assert accounting.epsilon(0.01, 1.0, 10_000, 1e-5, "rdp") == pytest.approx(6.7127, abs=1e-3)


def test_pld_reference_values():
    assert accounting.epsilon(0.04, 1.5, 2249, 1e-5, "pld") == pytest.approx(6.769, abs=0.01)
    assert accounting.epsilon(0.01, 1.0, 10_000, 1e-5, "pld") == pytest.approx(6.1877, abs=0.01)


def test_pld_is_tighter_than_rdp():
    assert accounting.epsilon(0.04, 1.5, 500, 1e-5, "pld") < accounting.epsilon(0.04, 1.5, 500, 1e-5, "rdp")


@pytest.mark.parametrize("mode", ["rdp", "pld"])
def test_noise_for_target_epsilon_reaches_target(mode):
    sigma = accounting.noise_multiplier_for_epsilon(3.0, 0.01, 1000, 1e-5, mode)
    eps = accounting.epsilon(0.01, sigma, 1000, 1e-5, mode)
    assert 3.0 - 0.01 <= eps <= 3.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="sample rate"):
        accounting.epsilon(1.5, 1.0, 10, 1e-5)
    with pytest.raises(ValueError, match="delta"):
        accounting.epsilon(0.1, 1.0, 10, 2.0)
    with pytest.raises(ValueError, match="accounting mode"):
        accounting.epsilon(0.1, 1.0, 10, 1e-5, "gdp")
    with pytest.raises(ValueError, match="target epsilon"):
        accounting.noise_multiplier_for_epsilon(-1, 0.1, 10, 1e-5)
