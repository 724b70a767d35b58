"""Theorem 2's convergence curves: the closed-form doubling on a Gaussian, and the law-level
estimator on a mixture validated against the closed form where one exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfgstudy.analysis.convergence import all_levels, doubling_curve
from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.mixtures import isotropic_score, mixture_law
from mfgstudy.core.samplers import build_sampler
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.metrics.gaussian import sampler_law, w2_gaussians
from mfgstudy.metrics.mixture_w2 import law_w2
from mfgstudy.rates import RateSpec

SDE = VPSDE()
UNIFORM = {"kind": "uniform"}


def test_isotropic_score_is_the_mixture_score():
    law = mixture_law({"weights": [0.7, 0.3], "means": [[-2, 0], [2, 0]], "std": 0.3})
    x = 3 * torch.randn(500, 2, dtype=torch.float64)
    for t in (1e-3, 0.1, 1.0):
        torch.testing.assert_close(isotropic_score(law, SDE)(x, t), law.score(x, SDE, t))


def test_mixture_law_refuses_mismatched_weights():
    with pytest.raises(ValueError, match="one per mode"):
        mixture_law({"weights": [0.5, 0.3, 0.2], "means": [[-2, 0], [2, 0]], "std": 0.3})


def test_doubling_stops_once_the_tail_is_asymptotic():
    steps, w2 = doubling_curve(lambda n: 1.0 / n + 30.0 / n**2, 4, 1 << 20, RateSpec(), 5)
    assert steps[-1] < 1 << 20  # stopped by the regime test, not by the cap
    local = np.diff(np.log(w2[-3:])) / np.diff(np.log(steps[-3:]))
    assert abs(local[1] - local[0]) <= 0.1 and local[-1] == pytest.approx(-1.0, abs=0.1)
    steps, _ = doubling_curve(lambda n: 1e-9 + 0 * n, 4, 1024, RateSpec(), 5)
    assert list(steps) == [4]  # at round-off: no rate to follow


def test_a_plateau_that_passes_the_regime_test_once_does_not_stop_the_doubling():
    """The Dirac law's Euler-Maruyama error: a pre-asymptotic plateau of slope about -1/2 (the
    step above t_min) whose local slopes agree at one N by chance, then drift to the rate -1.
    Passing the regime test at one N is not enough: the doubling goes on until it passes at two
    successive N."""
    slopes = [-0.55, -0.54, -0.55, -0.545, -0.60, -0.70, -0.85, -0.95, -1.0, -1.0, -1.0, -1.0]
    logs = np.concatenate([[0.0], np.cumsum(np.array(slopes) * np.log(2.0))])
    table = {4 * 2**k: float(np.exp(v)) for k, v in enumerate(logs)}
    steps, values = doubling_curve(table.__getitem__, 4, 4 * 2**12, RateSpec(), 5)
    # at N = 64 the last two local slopes (-0.55, -0.545) agree: one pass, on the plateau
    assert steps[-1] > 64
    local = np.diff(np.log(values[-3:])) / np.diff(np.log(steps[-3:]))
    assert local == pytest.approx([-1.0, -1.0])


@pytest.mark.parametrize("kind", ["pf_ode_euler", "euler_maruyama"])
def test_law_level_estimate_matches_the_closed_form_on_a_gaussian(kind):
    """One mode: the law-level estimate between the N- and 2N-step laws (coupled samples, all
    levels in one pass) is the Bures distance of their moments, which for a Gaussian law is the
    exact W2 between the two Gaussian N-step laws."""
    mean, cov = [0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]]
    law = GaussianMixture.gaussian(mean, cov)
    sampler = build_sampler({"kind": kind})
    levels = [8, 16, 32]
    rng = np.random.default_rng(0)
    x_T = torch.from_numpy(rng.standard_normal((40_000, 2)))

    def score(x, t):
        return law.score(x, SDE, t)

    finals = all_levels(sampler, SDE, score, grid_from_spec(SDE, 32, UNIFORM), levels, x_T, rng)
    for n in (8, 16):
        est = law_w2(finals[n].numpy(), finals[2 * n].numpy(), np.array([mean]), blocks=20)
        m1, c1 = sampler_law(sampler, SDE, score, grid_from_spec(SDE, n, UNIFORM), 2)
        m2, c2 = sampler_law(sampler, SDE, score, grid_from_spec(SDE, 2 * n, UNIFORM), 2)
        exact = w2_gaussians(m1, c1, m2, c2)
        assert abs(est.value - exact) <= max(4 * est.se, 0.03 * exact), (n, est, exact)


def test_the_mixture_store_carries_the_exact_refinements_of_a_deterministic_sampler():
    """``steps.exact_max``: the noise-free W2(law_N, law_2N) (mfgstudy.metrics.mixture_exact) sits
    beside the sampled estimate on its own N axis, and agrees with it where samples resolve it."""
    from mfgstudy.analysis.convergence import mixture_refinements

    spec = {"name": "mix", "grid_name": "uniform", "grid": UNIFORM, "seed": 0, "blocks": 10,
            "law": {"weights": [0.7, 0.3], "means": [[-2.0, 0.0], [2.0, 0.0]], "std": 0.3},
            "sde": {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3},
            "samplers": {"ode_euler": {"kind": "pf_ode_euler"}}, "n_samples": 20_000,
            "steps": {"start": 8, "max": 8, "exact_max": 16}}  # fmt: skip
    ds, attrs = mixture_refinements(spec)
    assert list(ds["steps_exact"].values) == [8, 16] and "mixture_exact" in attrs["estimator"]
    exact = float(ds["w2_transfer_exact"].sel(sampler="ode_euler", steps_exact=8))
    sampled = ds["w2_transfer"].sel(sampler="ode_euler", steps=8)
    se = float(ds["w2_transfer_se"].sel(sampler="ode_euler", steps=8))
    assert abs(float(sampled) - exact) <= 4 * se  # the same lower bound, with and without noise
    assert (ds["w2_exact"] >= ds["w2_transfer_exact"]).all()
