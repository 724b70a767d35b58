"""Exact scores against autograd of the log-densities they differentiate."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgstudy.core.exact import (
    GaussianMixture,
    empirical_log_density,
    empirical_score,
    empirical_x0_bar,
)
from mfgstudy.core.sde import VPSDE

SDE = VPSDE()


def _mixture(seed=0, k=3, d=2):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(k, d, d, generator=g, dtype=torch.float64)
    covs = a @ a.transpose(1, 2) * 0.3 + 0.05 * torch.eye(d, dtype=torch.float64)
    return GaussianMixture(
        torch.rand(k, generator=g, dtype=torch.float64) + 0.1,
        2 * torch.randn(k, d, generator=g, dtype=torch.float64),
        covs,
    )


def _autograd_score(logp, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(logp(x).sum(), x)
    return g


@settings(max_examples=30, deadline=None)
@given(t=st.floats(1e-3, 1.0), seed=st.integers(0, 50))
def test_mixture_score_matches_autograd(t, seed):
    mix = _mixture(seed)
    x = 3 * torch.randn(64, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    expected = _autograd_score(lambda y: mix.log_density(y, SDE, t), x)
    torch.testing.assert_close(mix.score(x, SDE, t), expected, rtol=1e-7, atol=1e-8)


def test_mixture_log_density_normalised_at_t0_like():
    mix = _mixture(1, k=2)
    grid = torch.linspace(-12, 12, 601, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    pts = torch.stack([xx.ravel(), yy.ravel()], 1)
    mass = mix.log_density(pts, SDE, 1e-3).exp().sum() * (grid[1] - grid[0]) ** 2
    assert float(mass) == pytest.approx(1.0, abs=1e-3)


@settings(max_examples=30, deadline=None)
@given(t=st.floats(1e-2, 1.0), seed=st.integers(0, 50))
def test_empirical_score_matches_autograd(t, seed):
    g = torch.Generator().manual_seed(seed)
    pts = torch.randn(20, 2, generator=g, dtype=torch.float64)
    x = 2 * torch.randn(32, 2, generator=g, dtype=torch.float64)
    expected = _autograd_score(lambda y: empirical_log_density(y, pts, SDE, t), x)
    torch.testing.assert_close(empirical_score(x, pts, SDE, t), expected, rtol=1e-6, atol=1e-6)


def test_empirical_x0_bar_limits():
    """Prop. 4.4: the mean of the samples for large t, the nearest sample as t -> 0."""
    sde = VPSDE(beta_min=2.0, beta_max=2.0, T=30.0, t_min=1e-4)
    pts = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
    x = torch.tensor([[2.6, 0.2], [0.1, -0.3]], dtype=torch.float64)
    far = empirical_x0_bar(x, pts, sde, 25.0)
    torch.testing.assert_close(far, pts.mean(0).expand(2, 2), atol=1e-6, rtol=0)
    near = empirical_x0_bar(x, pts, sde, 1e-4)
    torch.testing.assert_close(near, pts[[1, 0]], atol=1e-6, rtol=0)


def test_empirical_score_of_one_point_is_a_gaussian_score():
    pts = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    mix = GaussianMixture.gaussian(pts[0], torch.zeros(2, 2))
    x = torch.randn(16, 2, dtype=torch.float64)
    torch.testing.assert_close(empirical_score(x, pts, SDE, 0.3), mix.score(x, SDE, 0.3))
