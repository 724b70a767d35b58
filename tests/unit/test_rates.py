"""The rate module: known exponents recovered in their asymptotic regime, the pre-asymptotic part
flagged, unstable and below-floor points excluded, intervals only from enough replicates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgstudy.rates import RateSpec, fit_rate, local_slopes, seed_interval

N = 4 * 2 ** np.arange(12)  # 4 .. 8192


def _noisy(y, seeds, rel, rng):
    return y * (1 + rel * rng.normal(size=(seeds, y.size)))


def test_local_slopes_of_a_power_law_are_its_exponent():
    assert np.allclose(local_slopes(N, 3.0 * N**-1.5), -1.5)


@pytest.mark.parametrize("c2", [0.0, 5.0, 50.0])
def test_first_order_error_with_a_second_order_term_gives_minus_one_in_the_tail(c2):
    """C1/N + C2/N^2 with 2% noise over 5 seeds: the tail slope is -1 and its CI holds it."""
    rng = np.random.default_rng(1)
    curves = _noisy(1.0 / N + c2 / N**2, 5, 0.02, rng)
    r = fit_rate(N, curves)
    assert r.regime
    assert r.slope == pytest.approx(-1.0, abs=0.05)
    assert r.ci_low < -1.0 < r.ci_high
    assert r.ci_high - r.ci_low < 0.2


def test_the_pre_asymptotic_part_fails_the_regime_test():
    """On N <= 32 the N^-2 term dominates first: local slopes still move, no verdict."""
    short = N[:4]
    r = fit_rate(short, 1.0 / short + 50.0 / short**2, resampling="exact")
    assert not r.regime
    assert "differ by more than" in r.note
    assert r.fit_all < -1.3  # a whole-range fit would have called it faster than 1/N
    assert abs(r.local[-1] - r.local[-2]) > 0.1


def test_an_unstable_point_is_excluded():
    """An error that grows with N at the coarse end (unstable step) is pre-asymptotic."""
    y = 1.0 / N
    y[0] = 0.1 * y[1]  # error at N=4 below N=8: grows with N between them
    r = fit_rate(N, y, resampling="exact")
    assert not r.kept[0] and r.kept[1:].all()
    assert any("pre-asymptotic" in e for e in r.excluded)
    assert r.slope == pytest.approx(-1.0) and r.regime


def test_points_below_the_floor_are_not_used():
    y = 1.0 / N
    r = fit_rate(N, y, resampling="exact", floor=1e-3)  # 2 x floor = 2e-3: N >= 512 dropped
    assert r.x[r.kept].max() == 256
    assert any("floor" in e for e in r.excluded)
    assert r.slope == pytest.approx(-1.0)


def test_too_few_seeds_give_no_interval_and_say_so():
    rng = np.random.default_rng(0)
    r = fit_rate(N, _noisy(1.0 / N, 2, 0.02, rng))
    assert np.isfinite(r.slope) and not r.has_ci
    assert "indicative" in r.note


def test_exact_resampling_refuses_replicates_that_differ():
    with pytest.raises(ValueError, match="exact"):
        fit_rate(N, np.stack([1.0 / N, 1.1 / N**1.1]), resampling="exact")


def test_small_limit_reads_the_rate_near_zero():
    """W2 ~ eps^0.5 near 0 and saturating at large eps: the tail is at small eps."""
    eps = np.array([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0])
    y = np.sqrt(eps) / (1 + np.sqrt(eps))
    r = fit_rate(eps, y, RateSpec(limit="small"), resampling="exact")
    assert r.tail_x == (0.005, 0.001)
    assert r.slope == pytest.approx(0.5, abs=0.1)
    assert r.fit_all < r.slope  # the saturated large-eps point flattens a whole-range fit


def test_jackknife_replicates_give_an_interval():
    rng = np.random.default_rng(2)
    reps = _noisy(1.0 / N, 20, 0.005, rng)
    r = fit_rate(N, reps, resampling="jackknife")
    assert r.has_ci and "sample blocks" in r.note


def test_hostile_inputs():
    with pytest.raises(ValueError, match="grid points"):
        fit_rate(N, np.ones(3))
    with pytest.raises(ValueError, match="resampling"):
        fit_rate(N, 1.0 / N, resampling="vibes")
    with pytest.raises(ValueError, match="limit"):
        fit_rate(N, 1.0 / N, RateSpec(limit="sideways"))
    r = fit_rate(N, np.full(N.size, np.nan), resampling="exact")
    assert np.isnan(r.slope) and "usable" in r.note


@settings(max_examples=30, deadline=None)
@given(st.floats(-3.0, -0.2), st.floats(0.01, 100.0))
def test_any_pure_power_law_is_recovered_exactly(exponent, scale):
    r = fit_rate(N, scale * N.astype(float) ** exponent, resampling="exact")
    assert r.regime and r.slope == pytest.approx(exponent, abs=1e-9)


def test_seed_interval_needs_five_seeds_and_covers_the_truth():
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 0.1, 4), rng.normal(2.0, 0.1, 4)
    point, lo, hi, note = seed_interval(lambda x, y: y.mean() - x.mean(), [a, b])
    assert np.isfinite(point) and np.isnan(lo) and "needs 5" in note
    hits = 0
    for _ in range(200):
        a, b = rng.normal(1.0, 0.1, 6), rng.normal(2.0, 0.1, 6)
        _, lo, hi, _ = seed_interval(lambda x, y: y.mean() - x.mean(), [a, b])
        hits += lo <= 1.0 <= hi
    assert hits / 200 > 0.88  # a 95% interval, from 6 seeds per group


def test_an_error_that_stops_falling_near_the_limit_is_kept_and_fails_the_regime():
    """Growth at the end is a result (no convergence), not a pre-asymptotic point to drop."""
    k = np.array([1, 2, 4, 8, 16.0])
    y = np.array([9.4, 8.3, 8.3, 9.0, 10.5])
    r = fit_rate(k, y, resampling="exact")
    assert r.kept.all() and r.slope > 0


def test_a_rise_within_the_noise_floor_is_not_an_instability():
    y = 1.0 / N[:7]
    y[3] = y[2] * 1.01  # a rise of 1%, inside a floor of 5%
    r = fit_rate(N[:7], y, resampling="exact", floor=0.05 * y / 2.0)
    assert r.kept.all()
