import numpy as np
import pytest

from mfgstudy.report import eligible_steps, fit_slope

SPEC = {"floor_factor": 2.0, "coupled_max_fraction": 0.125, "min_points": 3, "bootstrap": 200}


def test_fit_recovers_a_known_rate_with_a_seed_ci():
    rng = np.random.default_rng(0)
    steps = np.array([4, 8, 16, 32, 64.0])
    curves = 3.0 / steps[None] * np.exp(0.05 * rng.normal(size=(5, 5)))
    res = fit_slope(curves, steps, np.ones(5, bool), SPEC, rng)
    assert res["slope"] == pytest.approx(-1.0, abs=0.05)
    assert res["ci_low"] < res["slope"] < res["ci_high"]


def test_points_near_the_floor_are_not_fitted():
    steps = np.array([4, 8, 16, 32, 64])
    mean = np.array([2.0, 1.0, 0.5, 0.3, 0.29])
    mask = eligible_steps("uncoupled", steps, mean, 0.25, None, SPEC)
    np.testing.assert_array_equal(mask, [True, True, True, False, False])
    mask = eligible_steps("coupled", steps, mean, np.nan, 256, SPEC)
    np.testing.assert_array_equal(mask, [True, True, True, True, False])


def test_too_few_points_give_no_slope_and_say_why():
    res = fit_slope(
        np.ones((2, 4)),
        np.arange(1, 5.0),
        np.array([1, 1, 0, 0], bool),
        SPEC,
        np.random.default_rng(0),
    )
    assert np.isnan(res["slope"]) and "only 2 N" in res["note"]


def test_round_off_is_not_a_rate_and_one_seed_has_no_ci():
    steps = np.array([4, 8, 16, 32.0])
    mask = eligible_steps("closed_form", steps, np.array([1e-16, 1e-12, 0.1, 0.05]), 0, 0, SPEC)
    np.testing.assert_array_equal(mask, [False, False, True, True])
    res = fit_slope((1.0 / steps)[None], steps, np.ones(4, bool), SPEC, np.random.default_rng(0))
    assert res["note"] == "one seed: no CI" and np.isnan(res["ci_low"])
