"""Exact refinement distances W2(law_N, law_2N) on collinear isotropic mixtures
(mfgstudy.metrics.mixture_exact)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.mixtures import isotropic_score, mixture_law
from mfgstudy.core.samplers import Sampler, build_sampler, integrate
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.metrics.gaussian import sampler_law, w2_gaussians
from mfgstudy.metrics.mixture_exact import line_geometry, refinement_distances
from mfgstudy.metrics.mixture_w2 import transfer_lower_bound

SDE = VPSDE.from_spec({"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3})
GRID = {"kind": "uniform"}
ODE_EULER = {"kind": "pf_ode_euler"}
SEPARATED = {"weights": [0.7, 0.3], "means": [[-2.0, 0.0], [2.0, 0.0]], "std": 0.3}
# a line that misses the origin, along (1, 1) / sqrt(2), closer modes
OFFSET = {"weights": [0.6, 0.4], "means": [[-1.5, 0.5], [0.5, 2.5]], "std": 0.4}
# three modes on a line along (2, 1) that misses the origin
THREE = {"weights": [0.5, 0.3, 0.2], "means": [[-2.5, -1.0], [0.5, 0.5], [2.5, 1.5]], "std": 0.3}


def _closed_form(law, sampler_spec, n):
    """W2 between the N- and 2N-step laws of a one-Gaussian law (``metrics.gaussian``)."""
    sampler, score = build_sampler(sampler_spec), isotropic_score(law, SDE)
    m1, s1 = sampler_law(sampler, SDE, score, grid_from_spec(SDE, n, GRID), 2)
    m2, s2 = sampler_law(sampler, SDE, score, grid_from_spec(SDE, 2 * n, GRID), 2)
    return w2_gaussians(m1, s1, m2, s2)


@pytest.mark.parametrize(
    "spec",
    [
        {"weights": [1.0], "means": [[0.5, -0.5]], "std": 0.7},
        {"weights": [0.6, 0.4], "means": [[0.5, -0.5], [0.5, -0.5]], "std": 0.7},  # one mean
        {"weights": [1.0], "means": [[0.0, 0.0]], "std": 0.5},
    ],
)
@pytest.mark.parametrize("sampler", [ODE_EULER, {"kind": "pf_ode_heun"}, {"kind": "ddim"}])
def test_one_gaussian_matches_closed_form(spec, sampler):
    law = mixture_law(spec)
    steps = [4, 8]
    res = refinement_distances(law, SDE, sampler, GRID, steps)
    for i, n in enumerate(steps):
        exact = _closed_form(law, sampler, n)
        assert res["w2"][i] == pytest.approx(exact, rel=1e-10, abs=1e-13)
    assert np.all(res["mode_change_mass"] == 0.0)
    assert np.all(np.isnan(res["w2_transfer"]))  # one mode position: no transfer bound
    assert np.all(res["w2_mode_change"] == 0.0)
    assert np.allclose(res["w2"] ** 2, res["w2_along"] ** 2 + res["w2_across"] ** 2, rtol=1e-12)
    assert np.all(res["quadrature_change"] < 1e-12)


def _coupled_samples(law, n_steps, n=200_000, seed=0):
    """x_N and x_2N from the same x_T ~ N(0, I) (the study's own integrate)."""
    sampler, score = build_sampler(ODE_EULER), isotropic_score(law, SDE)
    x_T = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, 2)))
    with torch.no_grad():
        out = [integrate(sampler, SDE, score, grid_from_spec(SDE, k, GRID), x_T).numpy()
               for k in (n_steps, 2 * n_steps)]  # fmt: skip
    return out


@pytest.mark.parametrize("spec", [SEPARATED, OFFSET, THREE])
def test_agrees_with_monte_carlo(spec):
    """N = 8 vs 16 (a mode-change mass of ~1e-2): the empirical W2 of the sorted samples along
    and across the line, the sampled transfer bound and the sampled mode weights agree with the
    exact values within their noise."""
    law = mixture_law(spec)
    geom = line_geometry(law)
    n_steps = 8
    res = refinement_distances(law, SDE, ODE_EULER, GRID, [n_steps])
    x, y = _coupled_samples(law, n_steps)
    n = len(x)
    # empirical W2^2 between the sample sets: 1-D along u (sorted) + 1-D across (sorted)
    xa, ya = np.sort(x @ geom.u), np.sort(y @ geom.u)
    xc, yc = np.sort(x @ geom.across[:, 0]), np.sort(y @ geom.across[:, 0])
    along2, across2 = np.mean((xa - ya) ** 2), np.mean((xc - yc) ** 2)
    # noise: the coupled pairs (same x_T) are the sorted pairs here (monotone maps)
    d2 = np.sum((x - y) ** 2, axis=1)
    assert np.mean(d2) == pytest.approx(along2 + across2, rel=1e-9)
    se = d2.std(ddof=1) / np.sqrt(n)
    assert abs(res["w2"][0] ** 2 - (along2 + across2)) < 4 * se
    assert se < 0.05 * res["w2"][0] ** 2  # the check has teeth
    assert res["w2_across"][0] ** 2 == pytest.approx(across2, rel=0.02)
    # mode weights and the mass that changes mode
    mids = 0.5 * (geom.positions[1:] + geom.positions[:-1])
    mode_x, mode_y = np.searchsorted(mids, x @ geom.u), np.searchsorted(mids, y @ geom.u)
    for k in range(len(geom.positions)):
        p_x = (mode_x == k).mean()
        assert abs(res["mode_weights"][0, k] - p_x) < 4 * np.sqrt(p_x * (1 - p_x) / n)
    changed = (mode_x != mode_y).mean()
    assert res["mode_change_mass"][0] > 1e-3
    assert abs(res["mode_change_mass"][0] - changed) < 4 * np.sqrt(changed / n)
    if len(geom.positions) != 2:
        assert np.isnan(res["w2_transfer"][0])
        return
    # the transfer lower bound of mixture_w2, on samples and exact
    centres = law.means.numpy()
    lb, lb_se = transfer_lower_bound(x, y, centres)
    assert abs(res["w2_transfer"][0] - lb) < 4 * lb_se + 1e-12
    if spec is SEPARATED:  # (the closer modes of OFFSET: the band mass leaves no bound, 0)
        assert lb > 0.02 and res["w2_transfer"][0] > 0.02


def test_separated_law_bounds_and_rates():
    steps = [8, 16, 32, 64]
    res = refinement_distances(SEPARATED, SDE, ODE_EULER, GRID, steps)
    assert np.all(res["w2_transfer"] > 0)
    assert np.all(res["w2"] >= res["w2_transfer"])
    # the mass that changes mode halves with N, and D(N) >= 2b sqrt(mass - band) ~ sqrt(mass)
    ratio = res["mode_change_mass"][:-1] / res["mode_change_mass"][1:]
    assert np.all(np.abs(ratio - 2.0) < 0.05)
    assert np.all(res["quadrature_change"] < 1e-6 * res["w2"])
    assert np.all(res["decoupling_error"] < 1e-12)
    # thresholds: c_N < c_2N (the mass of the left mode grows to 0.7 with N)
    assert np.all(res["threshold"][:, 0] < res["threshold_2n"][:, 0])
    assert np.all(np.diff(res["mode_weights"][:, 0]) > 0)
    assert np.all(res["mode_weights"][:, 0] < 0.7)
    np.testing.assert_allclose(res["mode_weights"].sum(1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(
        res["w2"] ** 2,
        res["w2_mode_change"] ** 2 + res["w2_within"] ** 2 + res["w2_across"] ** 2,
        rtol=1e-12,
    )


# ------------------------------------------------------------------------------ hostile inputs


def _law(covs, means=((-2.0, 0.0), (2.0, 0.0))):
    return GaussianMixture(
        torch.tensor([0.5, 0.5], dtype=torch.float64),
        torch.tensor(means, dtype=torch.float64),
        torch.tensor(covs, dtype=torch.float64),
    )


class _Folding(Sampler):
    stochastic = False

    def step(self, sde, score, x, t, t_next, z):
        return x * (1.0 - x * x)


class _Mixing(Sampler):
    """Deterministic and monotone along u, but not rotation-equivariant."""

    stochastic = False

    def step(self, sde, score, x, t, t_next, z):
        return x + 0.1 * x.flip(-1)


@pytest.mark.parametrize(
    ("law", "sampler", "steps", "match"),
    [
        (SEPARATED, {"kind": "euler_maruyama"}, [8], "stochastic"),
        (SEPARATED, {"kind": "ddim", "eta": 1.0}, [8], "stochastic"),
        ({"weights": [0.3, 0.3, 0.4], "means": [[-2, 0], [2, 0], [0, 1]], "std": 0.3},
         ODE_EULER, [8], "not collinear"),
        (_law([[[0.09, 0], [0, 0.09]], [[0.16, 0], [0, 0.16]]]), ODE_EULER, [8], "unequal stds"),
        (_law([[[0.09, 0], [0, 0.04]], [[0.09, 0], [0, 0.04]]]), ODE_EULER, [8], "not isotropic"),
        (SEPARATED, ODE_EULER, [0], "positive integers"),
        (SEPARATED, ODE_EULER, [2.5], "positive integers"),
        (SEPARATED, _Folding(), [2], "not increasing"),
    ],
)  # fmt: skip
def test_refuses(law, sampler, steps, match):
    with pytest.raises(ValueError, match=match):
        refinement_distances(law, SDE, sampler, GRID, steps)


def test_refuses_a_sampler_that_does_not_decouple():
    with pytest.raises(RuntimeError, match="does not decouple"):
        refinement_distances(SEPARATED, SDE, _Mixing(), GRID, [2])
