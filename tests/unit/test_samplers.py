"""Samplers on Gaussian data laws, where the N-step output law is known in closed form."""

import math

import numpy as np
import pytest
import torch

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import SAMPLERS, build_sampler, generate, sample_noise
from mfgstudy.core.sde import VPSDE, time_grid
from mfgstudy.metrics.gaussian import sampler_law, w2_gaussians

SDE = VPSDE()
M, S2 = 0.7, 0.5  # 1-D data law N(M, S2)
MIX1 = GaussianMixture.gaussian([M], [[S2]])
GAUSS2 = GaussianMixture.gaussian([0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]])  # the default gaussian2d


def score1(x, t):
    return MIX1.score(x, SDE, t)


def hand_law(kind, grid):
    """Mean and variance of the N-step output, derived by hand for the 1-D Gaussian law."""
    al, s2f, beta = SDE.alpha, SDE.sigma2, SDE.beta

    def pq(t):  # score = p x + q
        v = al(t) ** 2 * S2 + s2f(t)
        return -1.0 / v, al(t) * M / v

    m, v = 0.0, 1.0
    for t, tn in zip(grid[:-1], grid[1:], strict=True):
        h, (p, q) = t - tn, pq(t)
        if kind == "euler_maruyama":
            A, b, c2 = 1 + h * (0.5 * beta(t) + beta(t) * p), h * beta(t) * q, beta(t) * h
        elif kind == "exponential_integrator":
            a, an, s2, s2n = al(t), al(tn), s2f(t), s2f(tn)
            r2 = (a / an) ** 2
            A = (a / an) * s2n / s2 + an * (1 - r2) / s2 * (1 + s2 * p) / a
            b, c2 = an * (1 - r2) / s2 * s2 * q / a, s2n * (1 - r2) / s2
        else:
            P, Q = -0.5 * beta(t) * (1 + p), -0.5 * beta(t) * q  # dx/dt = P x + Q
            if kind == "pf_ode_euler":
                A, b = 1 - h * P, -h * Q
            else:
                pn, qn = pq(tn)
                Pn, Qn = -0.5 * beta(tn) * (1 + pn), -0.5 * beta(tn) * qn
                A = 1 - 0.5 * h * (P + Pn * (1 - h * P))
                b = -0.5 * h * (Q + Qn - Pn * h * Q)
            c2 = 0.0
        m, v = A * m + b, A * A * v + c2
    return m, v


HAND = ["euler_maruyama", "exponential_integrator", "pf_ode_euler", "pf_ode_heun"]


@pytest.mark.parametrize("kind", HAND)
@pytest.mark.parametrize("grid_kind", ["uniform", "edm"])
@pytest.mark.parametrize("n", [1, 5, 40])
def test_probed_law_equals_hand_derivation(kind, grid_kind, n):
    grid = time_grid(SDE, n, grid_kind)
    m, v = sampler_law(build_sampler({"kind": kind}), SDE, score1, grid, 1)
    hm, hv = hand_law(kind, grid)
    assert m[0] == pytest.approx(hm, rel=1e-10, abs=1e-12)
    assert v[0, 0] == pytest.approx(hv, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize(
    "spec", [{"kind": k} for k in sorted(SAMPLERS)] + [{"kind": "ddim", "eta": 0.5}]
)
def test_monte_carlo_samples_follow_the_closed_form_law(spec):
    n, steps = 20000, 12
    x = generate(spec, {"kind": "uniform"}, SDE, score1, steps, n, (1,), seed=3)
    grid = time_grid(SDE, steps, "uniform")
    m, v = sampler_law(build_sampler(spec), SDE, score1, grid, 1)
    hm, hv = float(m[0]), float(v[0, 0])
    x = x[:, 0].numpy()
    assert abs(x.mean() - hm) < 5 * math.sqrt(hv / n)
    assert abs(x.var() - hv) < 5 * hv * math.sqrt(2 / n)


def test_exponential_integrator_is_exact_for_a_dirac_law():
    """PDE paper Thm 2 (OU, beta = 2): the reverse law from N(0, 1) at T, in closed form."""
    sde = VPSDE(beta_min=2.0, beta_max=2.0, T=2.0, t_min=0.05)
    x0 = 1.3
    dirac = GaussianMixture.gaussian([x0], [[0.0]])
    ei = build_sampler({"kind": "exponential_integrator"})
    T, t = sde.T, sde.t_min
    want_m = math.sinh(T - t) / math.sinh(T) * x0
    want_v = (math.sinh(t) / math.sinh(T)) ** 2 + 2 * math.sinh(t) * math.sinh(T - t) / math.sinh(T)
    for n in (1, 7, 50):
        m, v = sampler_law(ei, sde, lambda x, s: dirac.score(x, sde, s), time_grid(sde, n), 1)
        assert m[0] == pytest.approx(want_m, rel=1e-10)
        assert v[0, 0] == pytest.approx(want_v, rel=1e-10)


@pytest.mark.parametrize(
    "kind,order",
    [("euler_maruyama", 1), ("exponential_integrator", 1), ("pf_ode_euler", 1), ("pf_ode_heun", 2)],
)
def test_convergence_order_on_a_2d_gaussian(kind, order):
    mix = GAUSS2
    sampler = build_sampler({"kind": kind})

    def law(n):
        return sampler_law(sampler, SDE, lambda x, t: mix.score(x, SDE, t), time_grid(SDE, n), 2)

    fine = law(8192)
    e1, e2 = w2_gaussians(*law(128), *fine), w2_gaussians(*law(256), *fine)
    assert math.log2(e1 / e2) == pytest.approx(order, abs=0.25)


def test_noise_does_not_depend_on_batch_size():
    kw = dict(sde=SDE, score=score1, n_steps=8, n_samples=23, event_shape=(1,), seed=5)
    a = generate({"kind": "euler_maruyama"}, {"kind": "edm"}, batch_size=4, **kw)
    b = generate({"kind": "euler_maruyama"}, {"kind": "edm"}, batch_size=1000, **kw)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_coarse_noise_sums_the_fine_brownian_increments():
    fine = time_grid(SDE, 16, "edm")
    x1, z1 = sample_noise(9, range(3), (2,), fine, 1, True, torch.float64)
    x4, z4 = sample_noise(9, range(3), (2,), fine, 4, True, torch.float64)
    torch.testing.assert_close(x1, x4)
    dt = torch.from_numpy(-np.diff(fine))
    dw = z1 * dt.sqrt()[:, None, None]
    want = dw.reshape(4, 4, 3, 2).sum(1) / dt.reshape(4, 4).sum(1).sqrt()[:, None, None]
    torch.testing.assert_close(z4, want)


def test_coupled_runs_converge_to_the_reference_path():
    """Same Brownian path: the N-step sample approaches the fine-grid sample as N grows."""
    kw = dict(sde=SDE, score=score1, n_samples=200, event_shape=(1,), seed=1, brownian_steps=256)
    ref = generate({"kind": "euler_maruyama"}, {"kind": "uniform"}, n_steps=256, **kw)
    err = [
        float(
            (generate({"kind": "euler_maruyama"}, {"kind": "uniform"}, n_steps=n, **kw) - ref)
            .square()
            .mean()
            .sqrt()
        )
        for n in (8, 32, 128)
    ]
    assert err[0] > err[1] > err[2]


def test_unknown_sampler_is_rejected():
    with pytest.raises(ValueError, match="unknown sampler kind"):
        build_sampler({"kind": "leapfrog"})


@pytest.mark.parametrize("kind", HAND)
def test_n_step_law_converges_to_the_continuous_limit(kind):
    """The moment-ODE limit is the right one: each sampler approaches its own limit (reverse SDE
    or probability-flow ODE), and the error shrinks with N at the sampler's order."""
    from mfgstudy.metrics.gaussian import continuous_law

    mix = GAUSS2
    sampler = build_sampler({"kind": kind})
    limit = continuous_law(SDE, mix, sampler.stochastic)
    other = continuous_law(SDE, mix, not sampler.stochastic)
    errs = []
    for n in (256, 1024):
        law = sampler_law(sampler, SDE, lambda x, t: mix.score(x, SDE, t), time_grid(SDE, n), 2)
        errs.append(w2_gaussians(*law, *limit))
    gap = w2_gaussians(*limit, *other)  # SDE and ODE limits differ by ~2e-3 here
    assert errs[1] < errs[0] / 3  # keeps first-order decay: impossible against the wrong limit
    if kind == "pf_ode_heun":
        assert errs[1] < 0.01 * gap


def test_ddim_eta_one_is_the_ancestral_step():
    """DDIM with eta = 1 on the full training grid gives the ancestral (DDPM posterior) step:
    the same mean and the same noise, hence the same output for the same z."""
    sde = VPSDE()
    grid = time_grid(sde, 1000, "discrete", train_steps=1000)
    x = torch.randn(64, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z = torch.randn(64, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ddim, ei = (
        build_sampler({"kind": "ddim", "eta": 1.0}),
        build_sampler({"kind": "exponential_integrator"}),
    )
    for k in (0, 10, 500, 998, 999):
        t, tn = float(grid[k]), float(grid[k + 1])
        torch.testing.assert_close(
            ddim.step(sde, score1, x, t, tn, z), ei.step(sde, score1, x, t, tn, z)
        )
        zero = torch.zeros_like(z)
        torch.testing.assert_close(
            ddim.step(sde, score1, x, t, tn, zero), ei.step(sde, score1, x, t, tn, zero)
        )


@pytest.mark.parametrize("n", list(range(1, 60)) + [99, 250, 333, 999, 1000])
def test_discrete_grid_steps_stay_on_the_training_grid(n):
    from mfgstudy.core.sde import discrete_indices

    grid = time_grid(SDE, n, "discrete", train_steps=1000)
    idx = discrete_indices(SDE, grid, 1000)
    assert len(grid) == n + 1  # exactly N steps, whatever N
    np.testing.assert_allclose(idx, np.round(idx), atol=1e-6)  # every point, previous included
    assert np.all(np.diff(np.round(idx)) < 0) and round(idx[0]) == 1000 and round(idx[-1]) == 0


@pytest.mark.parametrize(
    "kind,order", [("ddim", 1), ("edm_heun", 2), ("fm_euler", 1), ("fm_heun", 2)]
)
def test_reparametrised_odes_converge_to_the_flow_limit(kind, order):
    from mfgstudy.metrics.gaussian import continuous_law

    mix = GAUSS2
    sampler = build_sampler({"kind": kind})
    assert not sampler.stochastic
    limit = continuous_law(SDE, mix, stochastic=False)

    def err(n):
        law = sampler_law(sampler, SDE, lambda x, t: mix.score(x, SDE, t), time_grid(SDE, n), 2)
        return w2_gaussians(*law, *limit)

    assert math.log2(err(256) / err(512)) == pytest.approx(order, abs=0.3)
