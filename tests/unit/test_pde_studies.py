"""The PDE-perspective pieces: Theorem 2's closed form, stopping times, the checkerboard's exact
law behind the oracle, and the concentration exponent fit."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import build_sampler
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.data import build_dataset, load_data
from mfgstudy.methods.registry import build_method
from mfgstudy.metrics.gaussian import continuous_law, sampler_law, theorem2_law, w2_gaussians
from mfgstudy.report.pde import concentration_fits

OU = VPSDE(beta_min=2.0, beta_max=2.0, T=3.0, t_min=1e-3)  # the PDE paper's dX = -X dt + sqrt2 dW
X0 = np.array([1.0, -0.5])
DIRAC = GaussianMixture.gaussian(X0, np.zeros((2, 2)))


@pytest.mark.parametrize("sde", [OU, VPSDE(1.0, 1.0, 2.0, 1e-2)], ids=["beta2", "beta1"])
def test_theorem2_is_the_exact_reverse_law_of_a_dirac(sde):
    """eq. 4.12, coded from the paper, against the reverse SDE's moment ODE (independent code)."""
    m, c = theorem2_law(sde, X0)
    m_ode, c_ode = continuous_law(sde, DIRAC, stochastic=True)
    np.testing.assert_allclose(m, m_ode, atol=1e-8)
    np.testing.assert_allclose(c, c_ode, atol=1e-8)


def test_exponential_integrator_is_exact_for_a_dirac_and_euler_maruyama_is_not():
    score = build_method({"kind": "exact"}, OU).score_fn(_dirac_data())
    law = theorem2_law(OU, X0)
    for n in (2, 5, 40):
        grid = grid_from_spec(OU, n, {"kind": "uniform"})
        ei = sampler_law(build_sampler({"kind": "exponential_integrator"}), OU, score, grid, 2)
        em = sampler_law(build_sampler({"kind": "euler_maruyama"}), OU, score, grid, 2)
        assert w2_gaussians(*ei, *law) < 1e-7
        assert w2_gaussians(*em, *law) > 1e-3


def _dirac_data():
    spec = {"kind": "dirac", "point": list(X0), "n_train": 10, "n_test": 10, "seed": 0}
    return load_data(build_dataset(spec))


def test_stopping_time_ends_the_grid():
    sde = VPSDE()
    grid = grid_from_spec(sde, 10, {"kind": "edm", "rho": 7.0, "t_stop": 0.1})
    assert grid[0] == sde.T and grid[-1] == 0.1 and np.all(np.diff(grid) < 0)


def test_exact_oracle_uses_the_checkerboard_law():
    spec = {"kind": "checkerboard", "cells": 4, "half_width": 2.0, "n_train": 50, "n_test": 50,
            "seed": 0}  # fmt: skip
    data = load_data(build_dataset(spec))
    method = build_method({"kind": "exact", "score": "auto"}, VPSDE())
    assert method.resolve(data) == "law"
    x = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(method.score_fn(data)(x, 0.3), data.law.score(x, VPSDE(), 0.3))
    with pytest.raises(ValueError, match="closed form"):
        build_method({"kind": "exact", "score": "law"}, VPSDE()).resolve(_digits_like())


def _digits_like():
    class D:
        law = None

    return D()


def test_concentration_fit_recovers_a_known_exponent():
    t = {"a": 0.001, "b": 0.01, "c": 0.1}
    rng = np.random.default_rng(0)
    vals = np.array([[2.0 * t[g] ** 0.7 * np.exp(0.02 * rng.normal()) for g in t]
                     for _ in range(3)])  # fmt: skip
    da = xr.DataArray(vals[None, :, :, None], dims=("method", "seed", "grid", "steps"),
                      coords={"method": ["exact"], "seed": [0, 1, 2], "grid": list(t),
                              "steps": [20]})  # fmt: skip
    cube = xr.Dataset({"support_distance_mean": da})
    spec = {"t_stop": t, "distance": {"exact": "support_distance_mean"},
            "fit": {"floor_factor": 2.0, "rates": {"tail": 3, "regime_tol": 0.1,
                                                   "min_seeds": 3}}}  # fmt: skip
    long, fits = concentration_fits(cube, spec)
    assert isinstance(long, pd.DataFrame) and len(long) == 9
    (r,) = fits.itertuples()
    assert r.exponent == pytest.approx(0.7, abs=0.05) and r.ci_low <= r.exponent <= r.ci_high
    assert r.regime == "passed" and r.tail == "0.1-0.001"
