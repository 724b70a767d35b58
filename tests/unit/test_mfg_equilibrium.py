"""MFG-Diffusion's closed-form equilibrium on a Gaussian law: the Riccati solutions solve the HJBs
they claim to (against a finite-difference solve of the 1-D PDE), existence per reading, the
equilibrium score, the output law, and Algorithm 1's trained networks against the closed form."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from mfgstudy.analysis.mfg_equilibrium import equilibrium_rows, output_law, solve
from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import build_sampler
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.methods.mfg import ValueNet
from mfgstudy.methods.registry import build_method
from mfgstudy.metrics.gaussian import sampler_law
from mfgstudy.training.fit import fit

SDE = VPSDE()
MEAN, VAR = 0.5, 0.8


def _fd_hjb(value_target: str, lam: float, t_end: float, weighting: str = "constant"):
    """The 1-D HJB of ``value_target`` by finite differences (method of lines, BDF), backward
    from V(x, T) = x^2 / 2 to t_end: (grad V(0), lap V(0)) at t_end."""
    x = np.linspace(-6.0, 6.0, 241)
    h = x[1] - x[0]

    def derivatives(v):
        vx, vxx = np.empty_like(v), np.empty_like(v)
        vx[1:-1] = (v[2:] - v[:-2]) / (2 * h)
        vxx[1:-1] = (v[2:] - 2 * v[1:-1] + v[:-2]) / h**2
        vx[0] = (-3 * v[0] + 4 * v[1] - v[2]) / (2 * h)
        vx[-1] = (3 * v[-1] - 4 * v[-2] + v[-3]) / (2 * h)
        vxx[0], vxx[-1] = vxx[1], vxx[-2]  # a quadratic's curvature is constant
        return vx, vxx

    def rhs(t, v):
        beta, s2, al = float(SDE.beta(t)), float(SDE.sigma2(t)), float(SDE.alpha(t))
        lam_t = lam * (s2 if weighting == "denoising" else 1.0)
        kb = beta * beta / (2 * lam_t)
        score = -(x - al * MEAN) / (al * al * VAR + s2)
        vx, vxx = derivatives(v)
        if value_target == "derived":  # V_t = -[(f + beta s) V_x + beta/2 V_xx - kb/2 V_x^2]
            return -((-0.5 * beta * x + beta * score) * vx + 0.5 * beta * vxx - 0.5 * kb * vx**2)
        # eq. (24): V_t = f V_x + beta/2 V_xx - kb/2 V_x^2 + lambda s^2
        return -0.5 * beta * x * vx + 0.5 * beta * vxx - 0.5 * kb * vx**2 + lam_t * score**2

    sol = solve_ivp(rhs, (SDE.T, t_end), 0.5 * x**2, method="BDF", rtol=1e-8, atol=1e-10)
    assert sol.success
    vx, vxx = derivatives(sol.y[:, -1])
    mid = len(x) // 2
    return vx[mid], vxx[mid]


@pytest.mark.parametrize(
    ("value_target", "lam", "weighting", "t_end"),
    [("derived", 1.0, "constant", 0.5), ("derived", 1.0, "denoising", 0.9),
     ("derived", 0.1, "constant", 0.95)],
)  # fmt: skip
def test_riccati_solves_the_derived_hjb(value_target, lam, weighting, t_end):
    """Against a finite-difference solve of the PDE. (The printed eq. 24 with a terminal value is
    a backward heat equation, ill-posed: a grid solve blows up at once; it is checked below by
    substitution instead.)"""
    eq = solve(SDE, [MEAN], [[VAR]], value_target, weighting, lam)
    (A, c), (gx, lap) = eq.value_gradient(t_end), _fd_hjb(value_target, lam, t_end, weighting)
    assert float(A[0, 0]) == pytest.approx(lap, rel=2e-3, abs=1e-8)
    assert float(c[0]) == pytest.approx(gx, rel=2e-3, abs=1e-8)


@pytest.mark.parametrize(
    ("value_target", "lam", "weighting", "t"),
    [("hjb_residual", 10.0, "constant", 0.99), ("hjb_residual", 100.0, "denoising", 0.3),
     ("derived", 1.0, "denoising", 0.7), ("derived", 0.1, "constant", 0.97)],
)  # fmt: skip
def test_quadratic_value_zeroes_the_methods_own_residual(value_target, lam, weighting, t):
    """The closed-form V = x.A x / 2 + c.x (2-D, rotated covariance) in MFG-Diffusion's own HJB
    residual (mfgstudy.methods.mfg) with the exact score: the residual is constant in x (the
    ODEs for A and c cancel its x^2 and x terms; the constant term is the unmodelled c(t))."""
    mean, cov = [0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]]
    eq = solve(SDE, mean, cov, value_target, weighting, lam)
    assert eq.exists or t > eq.t_blowup
    h = 1e-5
    (A, c), (A1, c1), (A0, c0) = (eq.value_gradient(u) for u in (t, t + h, t - h))
    dA, dc = (A1 - A0) / (2 * h), (c1 - c0) / (2 * h)
    as_t = [torch.as_tensor(v) for v in (A, c, dA, dc)]

    class Quadratic(torch.nn.Module):
        def forward(self, x, tt):
            A_, c_, dA_, dc_ = as_t
            s = (tt * SDE.T - t)[:, None]  # linear in t around t: dV/dt exact at t
            quad = 0.5 * ((x @ A_) * x).sum(1) + 0.5 * s[:, 0] * ((x @ dA_) * x).sum(1)
            return quad + x @ c_ + s[:, 0] * (x @ dc_)

    method = build_method({"kind": "mfg", "lambda": lam, "readings": {
        "value_target": value_target, "weighting": weighting}}, SDE)  # fmt: skip
    law = GaussianMixture.gaussian(mean, cov)
    x = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    x = torch.cat([torch.zeros(1, 2, dtype=torch.float64), x])
    res = method.hjb_residual(Quadratic(), x, law.score(x, SDE, t), t).detach()
    scale = float(SDE.beta(t)) * (1 + float(np.abs(A).max())) * float(x.square().sum(1).max())
    assert float((res - res[0]).abs().max()) < 1e-5 * scale


def test_existence_per_reading():
    """The printed eq. (24) blows up backward from T at lambda = 1 (both weightings); the derived
    HJB exists on the whole interval and its value decays away from T."""
    for weighting in ("constant", "denoising"):
        printed = solve(SDE, [MEAN], [[VAR]], "hjb_residual", weighting, 1.0)
        assert not printed.exists and SDE.t_min < printed.t_blowup < SDE.T
        with pytest.raises(ValueError, match="blows up"):
            printed.value_gradient(SDE.t_min)
        derived = solve(SDE, [MEAN], [[VAR]], "derived", weighting, 1.0)
        assert derived.exists and np.isnan(derived.t_blowup)
        a_late, a_early = derived.value_gradient(0.9)[0], derived.value_gradient(0.1)[0]
        assert 0 < a_early[0, 0] < a_late[0, 0] < 1.0


def test_equilibrium_scores_of_the_pointwise_readings():
    """off: s_eq is the true score; algorithm1: grad V = -kappa grad log p, so s_eq = (1 + kappa^2)
    grad log p (eq. 23)."""
    mean, cov = [0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]]
    t = 0.4
    off = solve(SDE, mean, cov, "off")
    P, q = off.true_score(t)
    m_t, c_t = GaussianMixture.gaussian(mean, cov).diffused(SDE, t)
    np.testing.assert_allclose(P, -np.linalg.inv(c_t[0].numpy()), rtol=1e-10)
    np.testing.assert_allclose(q, np.linalg.solve(c_t[0].numpy(), m_t[0].numpy()), rtol=1e-10)
    np.testing.assert_allclose(off.score(t)[0], P)
    for weighting in ("constant", "denoising"):
        alg = solve(SDE, mean, cov, "algorithm1", weighting, 2.0)
        k = alg.kappa(t)
        assert k == pytest.approx(float(SDE.beta(t)) / (2 * alg.lambda_t(t)))
        np.testing.assert_allclose(alg.score(t)[0], (1 + k * k) * P, rtol=1e-10)
        np.testing.assert_allclose(alg.score(t)[1], (1 + k * k) * q, rtol=1e-10)


def test_output_law_is_the_samplers_own_law():
    mean, cov = [0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]]
    spec, grid_spec = {"kind": "pf_ode_heun"}, {"kind": "uniform"}
    law = GaussianMixture.gaussian(mean, cov)
    m, S = output_law(solve(SDE, mean, cov, "off"), spec, grid_spec, 32)
    want = sampler_law(build_sampler(spec), SDE, lambda x, t: law.score(x, SDE, t),
                       grid_from_spec(SDE, 32, grid_spec), 2)  # fmt: skip
    np.testing.assert_allclose(m, want[0], atol=1e-10)
    np.testing.assert_allclose(S, want[1], atol=1e-10)
    assert output_law(solve(SDE, mean, cov, "hjb_residual", "constant", 1.0), spec, grid_spec,
                      32) is None  # fmt: skip


def test_rows_compare_every_reading_with_the_control():
    spec = {"sde": {"kind": "vp"}, "weightings": ["constant"], "lambdas": [1.0, 100.0],
            "value_targets": ["hjb_residual", "derived"], "grid": {"kind": "uniform"},
            "samplers": {"em": {"kind": "euler_maruyama"}}, "steps": [16],
            "probe_times": 5}  # fmt: skip
    rows, curves = equilibrium_rows(spec, np.array([0.5, -0.5]), np.eye(2))
    assert {(r["value_target"], r["lambda"]) for r in rows} == {
        (v, lam) for v in ("off", "hjb_residual", "derived") for lam in (1.0, 100.0)}  # fmt: skip
    for r in rows:
        if r["value_target"] == "off":
            assert r["w2_to_control"] < 1e-6 and r["correction_max"] == 0.0
        if r["value_target"] == "hjb_residual" and r["lambda"] == 1.0:
            assert not r["exists"] and not r["finite_output"] and np.isnan(r["w2_to_data"])
    assert len(curves) == 5 * len({(r["value_target"], r["lambda"]) for r in rows})


def test_trained_networks_reach_the_closed_form_equilibrium():
    """Algorithm 1 (line 10's reading, lambda(t) = 10, the grid times) on a Gaussian law: at each
    training time, the value network's gradient and the score network, regressed on [x, 1] over
    samples of p_t, are the closed form's grad V and s_eq, and the score is told apart from the
    true score (s_eq = (1 + kappa^2) grad log p differs by up to 80 % at late t)."""
    torch.manual_seed(0)
    mean, cov = np.array([0.5, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    law = GaussianMixture.gaussian(mean, cov)
    net_spec = {"points": {"kind": "mlp", "width": 64, "depth": 2, "emb_dim": 32}}
    readings = {"value_target": "algorithm1", "weighting": "constant", "time_sampling": "fixed"}
    spec = {"kind": "mfg", "net": net_spec, "value_net": net_spec, "gamma": 0.0, "lambda": 10.0,
            "readings": readings}  # fmt: skip
    train = {"outer_iters": 30, "time_points": 5, "hjb_batches": 2, "fp_batches": 4,
             "batch_size": 256, "measure_size": 2000, "lr": 3e-3, "ema": 0.9}  # fmt: skip
    gauss = torch.distributions.MultivariateNormal(law.means[0], law.covs[0])
    x = gauss.sample((4000,)).float()
    method = build_method(spec, SDE)
    net = method.build_net("points", (2,))
    _, _, extra = fit(method, net, x, train, 0, "points")
    V = ValueNet(net_spec["points"], (2,))
    V.load_state_dict(extra["value_net"])
    eq = solve(SDE, mean, cov, "algorithm1", "constant", 10.0)

    def rel(u, v):
        return np.linalg.norm(u - v) / np.linalg.norm(v)

    for t in method.time_points(train["time_points"]):
        t = float(t)
        m_t, c_t = law.diffused(SDE, t)
        xs = torch.distributions.MultivariateNormal(m_t[0], c_t[0]).sample((4000,)).float()
        design = torch.cat([xs, torch.ones(len(xs), 1)], 1).double()
        with torch.no_grad():
            s = method.score_of(net, xs, t).double()
        gv = method.grad_x(V, xs, t, create_graph=False).double()
        fit_s = torch.linalg.lstsq(design, s).solution.numpy()  # rows: x1, x2, 1
        fit_v = torch.linalg.lstsq(design, gv).solution.numpy()
        (P, q), (A, c), (P_true, _) = eq.score(t), eq.value_gradient(t), eq.true_score(t)
        assert rel(fit_v[:2].T, A) < 0.1, t
        assert np.abs(fit_v[2] - c).max() < 0.1, t
        if t >= 0.5:  # where the correction is large and the score well learned
            assert rel(fit_s[:2].T, P) < 0.15, t
            assert rel(fit_s[:2].T, P_true) > 2 * rel(fit_s[:2].T, P), t
            assert np.abs(fit_s[2] - q).max() < 0.15, t
