"""W2-vs-N rates per estimator (mfgstudy.report.paper.n_rate on top of mfgstudy.rates)."""

import numpy as np
import pytest

from mfgstudy.report.paper import n_rate, rate_columns

SPEC = {"floor_factor": 2.0, "coupled_max_fraction": 0.125,
        "rates": {"tail": 3, "regime_tol": 0.1, "min_seeds": 5}}  # fmt: skip
STEPS = np.array([4, 8, 16, 32, 64.0])


def test_a_known_rate_with_an_interval_over_five_seeds():
    rng = np.random.default_rng(0)
    curves = 3.0 / STEPS[None] * np.exp(0.02 * rng.normal(size=(5, 5)))
    rate = n_rate("uncoupled", STEPS, curves, SPEC, floor=0.001)
    assert rate.slope == pytest.approx(-1.0, abs=0.1)
    assert rate.ci_low < rate.slope < rate.ci_high and rate.regime
    cols = rate_columns(rate)
    assert cols["regime"] == "passed" and cols["n_seeds"] == 5 and "16-32" in cols["local_slopes"]


def test_uncoupled_points_near_the_floor_are_not_used():
    mean = np.array([2.0, 1.0, 0.5, 0.3, 0.29])
    rate = n_rate("uncoupled", STEPS, mean, SPEC, floor=0.25)
    assert list(rate.x[rate.kept]) == [4, 8, 16]
    assert rate_columns(rate)["excluded"].count("floor") == 2


def test_coupled_uses_only_n_well_below_the_reference():
    rate = n_rate("coupled", STEPS, 1.0 / STEPS, SPEC, reference_steps=256)
    assert list(rate.x) == [4, 8, 16, 32]  # 64 > 0.125 x 256


def test_round_off_is_not_a_rate_and_a_closed_form_is_exact():
    rate = n_rate("closed_form", STEPS, np.array([0.4, 0.2, 0.1, 0.05, 1e-12]), SPEC)
    assert list(rate.x[rate.kept]) == [4, 8, 16, 32]
    assert rate.ci_low == rate.ci_high == rate.slope == pytest.approx(-1.0)
    assert "exact" in rate_columns(rate)["ci_over"]


def test_two_seeds_give_no_interval():
    rate = n_rate("uncoupled", STEPS, np.stack([1.0 / STEPS, 1.1 / STEPS]), SPEC)
    assert np.isfinite(rate.slope) and np.isnan(rate.ci_low)
    assert "indicative" in rate_columns(rate)["ci_over"]
