"""The memorisation statistics: the Tweedie step of the VP SDE against closed forms (a Gaussian
law's posterior mean, a Dirac law, the empirical law's kernel average), the shares beside fresh
draws, and the memorisation table's stopping times."""

import numpy as np
import pytest
import torch
import xarray as xr

from mfgstudy.core.exact import GaussianMixture, empirical_score, empirical_x0_bar
from mfgstudy.core.sde import VPSDE
from mfgstudy.metrics.memorisation import memorisation_shares, tweedie_denoise
from mfgstudy.report.pde import memorisation_table, t_label
from mfgstudy.store import write_groups

SDE = VPSDE()  # linear beta: alpha_t != exp(-t), so a wrong Tweedie constant shows


def _law_score(law):
    return lambda x, t: law.score(x, SDE, t)


@pytest.mark.parametrize("t", [1e-3, 0.1, 0.7])
def test_tweedie_is_the_posterior_mean_of_a_gaussian_law(t):
    """x0 ~ N(m, s0^2 I), x_t = alpha x0 + sigma z: E[x0 | x_t] = m + alpha s0^2 (x_t - alpha m)
    / (alpha^2 s0^2 + sigma^2), independent of the score code."""
    m, s0 = np.array([0.5, -1.0]), 0.3
    law = GaussianMixture.gaussian(m, s0**2 * np.eye(2))
    x = np.random.default_rng(0).normal(size=(50, 2))
    a, s2 = float(SDE.alpha(t)), float(SDE.sigma2(t))
    expected = m + a * s0**2 * (x - a * m) / (a * a * s0**2 + s2)
    np.testing.assert_allclose(tweedie_denoise(x, _law_score(law), SDE, t), expected, atol=1e-9)


def test_tweedie_of_a_dirac_law_is_the_point_and_of_the_empirical_law_its_kernel_mean():
    x0 = np.array([1.0, -0.5])
    dirac = GaussianMixture.gaussian(x0, np.zeros((2, 2)))
    x = np.random.default_rng(1).normal(size=(20, 2)) * 3.0
    np.testing.assert_allclose(tweedie_denoise(x, _law_score(dirac), SDE, 0.2),
                               np.broadcast_to(x0, x.shape), atol=1e-8)  # fmt: skip
    pts = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]], dtype=torch.float64)
    xt = torch.as_tensor(x)
    got = tweedie_denoise(x, lambda y, t: empirical_score(y, pts, SDE, t), SDE, 0.05)
    np.testing.assert_allclose(got, empirical_x0_bar(xt, pts, SDE, 0.05).numpy(), atol=1e-9)


def test_memorisation_shares_of_copies_and_of_fresh_draws():
    rng = np.random.default_rng(2)
    train = rng.uniform(-2, 2, size=(8, 2))
    t = 1e-3
    x = float(SDE.alpha(t)) * train[rng.integers(0, 8, 400)] + float(SDE.sigma(t)) * rng.normal(
        size=(400, 2)
    )  # the exact empirical reverse law at t: copies of training points, diffused
    fresh = rng.uniform(-2, 2, size=(400, 2))  # the law itself: almost never near a point
    pts = torch.as_tensor(train)
    law = GaussianMixture.gaussian(np.zeros(2), np.eye(2) * 4.0 / 3.0)  # any law with a score
    out = memorisation_shares(x, train, fresh, 0.05, SDE, t,
                              lambda y, s: empirical_score(y, pts, SDE, s),
                              _law_score(law), seed=0)  # fmt: skip
    assert out["memorised_fraction_tweedie"] == 1.0
    assert out["memorised_fraction_fresh"] < 0.1 and out["memorised_fraction_fresh_tweedie"] < 0.1
    no_law = memorisation_shares(x, train, fresh, 0.05, SDE, t, None, None, seed=0)
    assert np.isnan(no_law["memorised_fraction_tweedie"])
    assert np.isnan(no_law["memorised_fraction_fresh_tweedie"])
    assert no_law["memorised_fraction_fresh"] == out["memorised_fraction_fresh"]  # seeded noise


def test_stopping_times_print_readably(tmp_path):
    assert t_label(1e-4) == "0.0001" and t_label(1e-3) == "0.001" and t_label(0.1) == "0.1"
    grids = ["stop_1e-4", "stop_1e-1"]
    shape = (1, 1, 2, 1, 2, 1)  # dataset, method, seed, sampler, grid, steps
    coords = {"dataset": ["toy_m4"], "method": ["exact_empirical"], "seed": [0, 1],
              "sampler": ["ei"], "grid": grids, "steps": [10]}  # fmt: skip
    dims = list(coords)
    cube = xr.Dataset({v: (dims, np.full(shape, 0.5)) for v in
                       ("memorised_fraction", "memorised_fraction_tweedie",
                        "memorised_fraction_fresh", "memorised_fraction_fresh_tweedie",
                        "memorised_fraction_data", "train_distance_mean")},
                      coords=coords)  # fmt: skip
    write_groups({"mem": cube}, tmp_path / "cube.zarr", {"study": "toy"}, 0.0)
    spec = {"sweep": "mem", "n_train": {"toy_m4": 4}, "delta": 0.05,
            "t_stop": {"stop_1e-4": 1e-4, "stop_1e-1": 0.1}}  # fmt: skip
    df = memorisation_table(str(tmp_path / "cube.zarr"), spec, str(tmp_path / "m.csv"),
                            str(tmp_path / "m.md"))  # fmt: skip
    assert list(df["t_stop"]) == [1e-4, 0.1] and "memorised_fraction_tweedie" in df
    md = (tmp_path / "m.md").read_text()
    assert "0.0001" in md and "| 0.000 " not in md
