"""The diffused uniform law on a union of boxes: score against autograd, normalisation, the
Gaussian limit, the checkerboard geometry, and finiteness at tiny t far from the support."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mfgstudy.core.exact import BoxUniform, GaussianMixture
from mfgstudy.core.sde import VPSDE
from mfgstudy.data import sample_checkerboard

SDES = {"default": VPSDE(), "constant": VPSDE(beta_min=1.0, beta_max=1.0, T=3.0)}
CELLS, HALF_WIDTH = 4, 2.0


def _random_boxes(seed: int = 0) -> BoxUniform:
    """Three disjoint boxes of unequal volumes, not symmetric about the origin."""
    lows = torch.tensor([[-2.0, -1.0], [0.5, 0.2], [-1.0, 1.5]], dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    sides = 0.3 + torch.rand(3, 2, generator=g, dtype=torch.float64)
    return BoxUniform(lows, lows + sides)


def _moments(boxes: BoxUniform) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of the undiffused law (a mixture of independent uniforms)."""
    w = boxes.log_weights().exp()
    m = 0.5 * (boxes.lows + boxes.highs)
    var = (boxes.highs - boxes.lows).square() / 12.0
    mean = w @ m
    second = (w[:, None, None] * (torch.diag_embed(var) + m[:, :, None] * m[:, None, :])).sum(0)
    return mean, second - torch.outer(mean, mean)


def _autograd_score(boxes: BoxUniform, x: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(boxes.log_density(x, sde, t).sum(), x)
    return g


@pytest.mark.parametrize("sde_name", sorted(SDES))
@pytest.mark.parametrize("t", [1e-3, 1e-2, 0.1, 0.9])
@pytest.mark.parametrize("kind", ["checkerboard", "random"])
def test_score_matches_autograd(sde_name, t, kind):
    sde = SDES[sde_name]
    boxes = (
        BoxUniform.checkerboard(CELLS, HALF_WIDTH) if kind == "checkerboard" else _random_boxes()
    )
    g = torch.Generator().manual_seed(7)
    x = 3.0 * (2.0 * torch.rand(256, 2, generator=g, dtype=torch.float64) - 1.0)
    expected = _autograd_score(boxes, x, sde, t)
    got = boxes.score(x, sde, t)
    scale = 1.0 / float(sde.sigma2(t))  # scores grow like distance / sigma^2
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-9 * scale)


@pytest.mark.parametrize(
    ("sde_name", "t"), [("default", 0.01), ("default", 0.05), ("constant", 0.2)]
)
def test_log_density_integrates_to_one(sde_name, t):
    sde = SDES[sde_name]
    boxes = BoxUniform.checkerboard(CELLS, HALF_WIDTH)
    grid = torch.linspace(-6.0, 6.0, 481, dtype=torch.float64)  # h = 0.025 < sigma
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    pts = torch.stack([xx.ravel(), yy.ravel()], 1)
    mass = boxes.log_density(pts, sde, t).exp().sum() * (grid[1] - grid[0]) ** 2
    assert float(mass) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("sde_name", "t"), [("default", 1.0), ("constant", 3.0)])
@pytest.mark.parametrize("kind", ["checkerboard", "random"])
def test_score_tends_to_the_moment_matched_gaussian(sde_name, t, kind):
    sde = SDES[sde_name]
    boxes = (
        BoxUniform.checkerboard(CELLS, HALF_WIDTH) if kind == "checkerboard" else _random_boxes()
    )
    gauss = GaussianMixture.gaussian(*_moments(boxes))
    x = torch.randn(128, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    got, ref = boxes.score(x, sde, t), gauss.score(x, sde, t)
    # the gap is of order alpha^3 (third cumulant) or alpha^4: 3e-7 at t = 1, 1e-2 at t = 3 here
    tol = 10.0 * float(sde.alpha(t)) ** 3
    torch.testing.assert_close(got, ref, rtol=0, atol=tol)
    assert float((got - ref).abs().max()) < 0.05 * float(ref.abs().max())


def test_checkerboard_boxes_match_sample_checkerboard():
    boxes = BoxUniform.checkerboard(CELLS, HALF_WIDTH)
    assert boxes.lows.shape == (CELLS * CELLS // 2, 2) and boxes.dim == 2
    side = 2 * HALF_WIDTH / CELLS
    torch.testing.assert_close(boxes.highs - boxes.lows, torch.full_like(boxes.lows, side))
    x = torch.from_numpy(sample_checkerboard(np.random.default_rng(0), 20_000, CELLS, HALF_WIDTH))
    eps = 1e-12
    inside = (x[:, None] >= boxes.lows - eps) & (x[:, None] <= boxes.highs + eps)
    assert torch.all(inside.all(-1).sum(1) == 1)
    # the box sampler draws from the same law: same share of points per box (up to noise)
    y = torch.from_numpy(boxes.sample(20_000, np.random.default_rng(1)))
    inside_y = ((y[:, None] >= boxes.lows) & (y[:, None] <= boxes.highs)).all(-1)
    assert torch.all(inside_y.sum(1) == 1)
    share = inside_y.double().mean(0)
    assert float((share - 1.0 / len(share)).abs().max()) < 0.01


def test_sample_is_volume_weighted():
    boxes = _random_boxes()
    y = torch.from_numpy(boxes.sample(50_000, np.random.default_rng(2)))
    inside = ((y[:, None] >= boxes.lows) & (y[:, None] <= boxes.highs)).all(-1)
    assert torch.all(inside.sum(1) == 1)
    torch.testing.assert_close(
        inside.double().mean(0), boxes.log_weights().exp(), atol=0.01, rtol=0
    )


@pytest.mark.parametrize("sde_name", sorted(SDES))
def test_finite_at_tiny_t_far_away_and_on_edges(sde_name):
    sde, t = SDES[sde_name], 1e-4
    boxes = BoxUniform.checkerboard(CELLS, HALF_WIDTH)
    far = 10.0 * HALF_WIDTH
    # far points whose nearest support point is inside a face or at a convex corner
    ring = torch.tensor(
        [[far, -0.5], [-far, 0.3], [-0.5, far], [far, far], [-far, -far], [far, -0.5 * far]],
        dtype=torch.float64,
    )
    lines = -HALF_WIDTH + 2 * HALF_WIDTH / CELLS * torch.arange(CELLS + 1, dtype=torch.float64)
    gx, gy = torch.meshgrid(lines, lines, indexing="ij")
    corners = torch.stack([gx.ravel(), gy.ravel()], 1)
    mid = torch.linspace(-HALF_WIDTH, HALF_WIDTH, 9, dtype=torch.float64)
    edges = torch.cat([torch.stack([v.expand(9), mid], 1) for v in lines])
    edges = torch.cat([edges, edges.flip(1)])
    level = torch.tensor([[far, 0.0], [0.0, -far]], dtype=torch.float64)  # in line with an edge
    x = torch.cat([ring, level, corners, edges])
    assert torch.isfinite(boxes.log_density(x, sde, t)).all()
    score = boxes.score(x, sde, t)
    assert torch.isfinite(score).all()
    # far away the posterior of x_0 sits on the point p of the support nearest to x / alpha, and
    # the score is (alpha p - x) / sigma^2
    a = float(sde.alpha(t))
    clamped = torch.maximum(torch.minimum(ring[:, None] / a, boxes.highs), boxes.lows)  # (n, K, 2)
    nearest = clamped[torch.arange(len(ring)), (a * clamped - ring[:, None]).norm(dim=-1).argmin(1)]
    expected = (a * nearest - ring) / float(sde.sigma2(t))
    torch.testing.assert_close(score[: len(ring)], expected, rtol=1e-3, atol=1e-3)
    assert score.dtype == x.dtype and score.shape == x.shape
    assert boxes.score(x.float(), sde, t).dtype == torch.float32
