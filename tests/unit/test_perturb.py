"""Score perturbations: every kind respects its bound; the adversarial one does the most damage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgstudy.core.adversarial import Adversarial, build_perturbation
from mfgstudy.core.perturb import KINDS, Perturbation, project, tabled
from mfgstudy.core.samplers import build_sampler, generate, integrate, sample_noise
from mfgstudy.core.sde import VPSDE, grid_from_spec

SDE = VPSDE()
VAR = torch.tensor([4.0, 0.25], dtype=torch.float64)  # data law N(0, diag(VAR))


def gaussian_score(x: torch.Tensor, t: float) -> torch.Tensor:
    a2, s2 = float(SDE.alpha(t)) ** 2, float(SDE.sigma2(t))
    return -x / (a2 * VAR + s2)


def field_norms(kind: str, eps: float, x, s, t) -> torch.Tensor:
    p = Perturbation({"kind": kind, "seed": 3, "frequency": 2.0}, eps, x.shape[1:])
    return p.delta(x, s, t).flatten(1).norm(dim=1)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["constant", "state", "state_score"]),
    eps=st.floats(1e-4, 10.0),
    scale=st.floats(1e-3, 1e3),
    t=st.floats(1e-3, 1.0),
    shape=st.sampled_from([(2,), (5,), (1, 4, 4)]),
)
def test_fields_respect_their_bound(kind, eps, scale, t, shape):
    gen = torch.Generator().manual_seed(0)
    x = scale * torch.randn((16, *shape), generator=gen, dtype=torch.float64)
    s = scale * torch.randn((16, *shape), generator=gen, dtype=torch.float64)
    assert (field_norms(kind, eps, x, s, t) <= eps * (1 + 1e-12)).all()


def test_constant_attains_eps_and_state_score_opposes_the_score():
    x = torch.randn(8, 3, dtype=torch.float64)
    torch.testing.assert_close(field_norms("constant", 0.3, x, x, 0.5), torch.full((8,), 0.3,
                               dtype=torch.float64))  # fmt: skip
    p = Perturbation({"kind": "state_score"}, 0.3, (3,))
    s = 100 * torch.randn(8, 3, dtype=torch.float64)
    cos = torch.nn.functional.cosine_similarity(p.delta(x, s, 0.5), s, dim=1)
    torch.testing.assert_close(cos, -torch.ones(8, dtype=torch.float64))


@settings(max_examples=30, deadline=None)
@given(eps=st.floats(1e-6, 1e3), scale=st.floats(1e-6, 1e6))
def test_projection_lands_in_the_ball_and_keeps_inner_points(eps, scale):
    d = scale * torch.randn(10, 2, 3, dtype=torch.float64)
    p = project(d, eps)
    assert (p.flatten(1).norm(dim=1) <= eps * (1 + 1e-9)).all()
    inside = d.flatten(1).norm(dim=1) <= eps
    torch.testing.assert_close(p[inside], d[inside])


def _run(kind_spec: dict, eps: float, sampler_kind="euler_maruyama", n_steps=32, n=64):
    """Final displacement |x_pert - x_clean|^2 per sample, same x_T and noise."""
    sampler = build_sampler({"kind": sampler_kind})
    grid = grid_from_spec(SDE, n_steps, {"kind": "uniform"})
    x_T, z = sample_noise(0, range(n), (2,), grid, 1, sampler.stochastic, torch.float64)
    p = build_perturbation(kind_spec, eps, (2,))
    used = p.for_batch(sampler, SDE, gaussian_score, grid, x_T, z)
    with torch.no_grad():
        clean = integrate(sampler, SDE, gaussian_score, grid, x_T, z)
        pert = integrate(sampler, SDE, used, grid, x_T, z)
    return (pert - clean).square().sum(1), used, grid


@pytest.mark.parametrize("sampler_kind", ["euler_maruyama", "pf_ode_heun"])
def test_adversarial_does_at_least_the_constant_damage(sampler_kind):
    """pgd starts at the constant direction and keeps each sample's best iterate, so its damage is
    at least the constant one's for every sample; here (a linear sampler on a Gaussian law with
    unequal variances, where the best direction is the high-variance axis and the constant
    direction is not) it must be strictly larger."""
    const, _, _ = _run({"kind": "constant"}, 0.1, sampler_kind)
    adv, _, _ = _run({"kind": "adversarial", "ascent": "pgd", "iters": 15}, 0.1, sampler_kind)
    assert (adv >= const * (1 - 1e-9)).all()
    assert adv.mean() > 1.05 * const.mean()


def test_pgd_reaches_the_closed_form_optimum_of_a_linear_sampler():
    """EM on a Gaussian law is linear in the perturbations: x_pert - x_clean = sum_k D_k delta_k
    with diagonal D_k whose first entry dominates, so the optimum over the eps-balls is delta_k =
    eps e_1 at every step (triangle inequality); the displacement is the same for every sample."""
    eps = 0.05
    adv, used, grid = _run({"kind": "adversarial", "ascent": "pgd", "iters": 30}, eps)
    e1 = torch.zeros(len(grid), 64, 2, dtype=torch.float64)
    e1[..., 0] = eps
    sampler = build_sampler({"kind": "euler_maruyama"})
    x_T, z = sample_noise(0, range(64), (2,), grid, 1, True, torch.float64)
    with torch.no_grad():
        best = integrate(sampler, SDE, tabled(gaussian_score, grid, e1), grid, x_T, z)
        clean = integrate(sampler, SDE, gaussian_score, grid, x_T, z)
    optimum = (best - clean).square().sum(1)
    assert (adv <= optimum * (1 + 1e-6)).all()
    assert (adv >= 0.98 * optimum).all()


def test_greedy_ascent_beats_a_random_constant_direction_and_stays_in_the_ball():
    const, _, _ = _run({"kind": "constant"}, 0.1)
    greedy, used, grid = _run({"kind": "adversarial", "ascent": "greedy"}, 0.1)
    assert greedy.mean() >= const.mean()
    x = torch.randn(64, 2, dtype=torch.float64)
    for t in grid:
        d = used(x, float(t)) - gaussian_score(x, float(t))
        assert (d.norm(dim=1) <= 0.1 * (1 + 1e-9)).all()


@pytest.mark.parametrize("kind", KINDS)
def test_eps_zero_is_the_unperturbed_sampler(kind):
    kw = dict(n_steps=16, n_samples=20, event_shape=(2,), seed=1)
    spec, grid = {"kind": "euler_maruyama"}, {"kind": "uniform"}
    clean = generate(spec, grid, SDE, gaussian_score, **kw)
    pert = generate(spec, grid, SDE, gaussian_score, **kw,
                    perturbation=Perturbation({"kind": kind}, 0.0, (2,)))  # fmt: skip
    torch.testing.assert_close(pert, clean, rtol=0, atol=0)


def test_displacement_is_linear_in_eps_for_a_constant_perturbation():
    """A constant delta enters a linear sampler linearly: doubling eps doubles the RMS shift."""
    a, _, _ = _run({"kind": "constant"}, 0.01)
    b, _, _ = _run({"kind": "constant"}, 0.02)
    np.testing.assert_allclose(np.sqrt(b.numpy()), 2 * np.sqrt(a.numpy()), rtol=1e-9)


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        Perturbation({"kind": "wind"}, 0.1, (2,))
    with pytest.raises(ValueError, match="eps"):
        Perturbation({"kind": "constant"}, -0.1, (2,))


def test_the_adversarial_kind_is_built_above_the_samplers():
    """core.perturb's fields know no sampler: the adversarial kind, which ascends through the
    sampler, is core.adversarial's (built by its build_perturbation, every kind alike)."""
    adv = build_perturbation({"kind": "adversarial"}, 0.1, (2,))
    assert isinstance(adv, Adversarial)
    assert type(build_perturbation({"kind": "constant"}, 0.1, (2,))) is Perturbation
    with pytest.raises(TypeError, match="core.adversarial.build_perturbation"):
        Perturbation({"kind": "adversarial"}, 0.1, (2,)).for_batch(None, SDE, None, *[None] * 3)
