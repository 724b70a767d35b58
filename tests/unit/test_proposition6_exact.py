"""Proposition 6 on the exact case (``mfgstudy.analysis.proposition6_exact``): the population
losses are those of Algorithm 1 as implemented (``MFGDiffusion.hjb_residual``, ``s_eq`` and
``algorithm1.fit``'s FP loss, by Monte Carlo) and their gradients are right; the fixed point
solves the discrete equations and is stationary; the iteration converges where the theory says
it does, at the rate it says; the discrete fixed point tends to the continuous equilibrium;
hostile inputs are refused."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from mfgstudy.analysis import proposition6_exact as p6
from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.mfg import MFGDiffusion

MEAN, COV = [0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]]  # config.yaml's gaussian2d
SPEC = {"gamma": 1.0e-4}  # config's mfg_value_derived: lambda 1, derived, denoising
# a small, well-conditioned case (cond(H) ~ 15) where GD with alpha0 / k can converge
BENIGN = {"sde": {"beta_min": 1.0, "beta_max": 1.0, "T": 1.0, "t_min": 1.0e-3},
          "time_points": 2, "weighting": "constant", "lambda": 10.0, "gamma": 0.0,
          "terminal": "exact"}  # fmt: skip
BENIGN_LAW = ([0.5], [[0.8]])


def _random_state(pb, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    return {k: scale * rng.standard_normal(v.shape) for k, v in pb.zeros().items()}


def _fd_check(loss_fn, st, keys, step=1e-6):
    _, grad = loss_fn(st)
    for k in keys:
        fd = np.zeros_like(st[k])
        for idx in np.ndindex(*st[k].shape):
            plus = {kk: v.copy() for kk, v in st.items()}
            minus = {kk: v.copy() for kk, v in st.items()}
            plus[k][idx] += step
            minus[k][idx] -= step
            fd[idx] = (loss_fn(plus)[0] - loss_fn(minus)[0]) / (2 * step)
        scale = max(1.0, np.abs(grad[k]).max())
        np.testing.assert_allclose(grad[k], fd, rtol=1e-5, atol=1e-6 * scale, err_msg=k)


# --- (a) the population losses and their gradients ---------------------------------------------


@pytest.mark.parametrize("rows", [slice(0, 1), slice(19, 20), slice(None)])
@pytest.mark.parametrize("terminal", ["penalty", "exact"])
def test_hjb_gradient_matches_finite_differences(rows, terminal):
    pb = p6.problem({**SPEC, "terminal": terminal}, MEAN, COV)
    st = _random_state(pb)
    _fd_check(lambda s: p6.hjb_loss_grad(pb, s, rows), st, p6.VALUE_KEYS)


@pytest.mark.parametrize("score_param", ["epsilon", "score"])
@pytest.mark.parametrize("rows", [slice(0, 1), slice(None)])
def test_fp_gradient_matches_finite_differences(score_param, rows):
    pb = p6.problem({**SPEC, "score_param": score_param, "gamma": 0.05}, MEAN, COV)
    st = _random_state(pb, seed=1)
    _fd_check(lambda s: p6.fp_loss_grad(pb, s, rows), st, p6.SCORE_KEYS)


class _IntervalValue(nn.Module):
    """V(x, t) on [t_i, t_{i+1}]: V_i and V_{i+1} of the exact family (eigenbasis), linear in
    t, so that autograd's dV/dt at t_i is the difference the exact case uses."""

    def __init__(self, pb, st, i):
        super().__init__()
        d = lambda v: nn.Parameter(torch.tensor(np.asarray(v), dtype=torch.float64))  # noqa: E731
        self.a0, self.a1 = d(st["a"][i]), d(st["a"][i + 1])
        self.b0, self.b1 = d(st["b"][i]), d(st["b"][i + 1])
        self.c0, self.c1 = d(st["c"][i]), d(st["c"][i + 1])
        self.basis = torch.tensor(pb.basis)
        self.t0, self.h, self.T = float(pb.t[i]), float(pb.h[i, 0]), pb.sde.T

    def forward(self, x, tt):
        y = x @ self.basis
        v0 = (0.5 * self.a0 * y * y + self.b0 * y).sum(1) + self.c0
        v1 = (0.5 * self.a1 * y * y + self.b1 * y).sum(1) + self.c1
        return v0 + (tt * self.T - self.t0) / self.h * (v1 - v0)


def _marginal_draw(pb, i, n, gen):
    al, s2 = float(pb.sde.alpha(pb.t[i])), float(pb.sde.sigma2(pb.t[i]))
    cov = al * al * pb.cov + s2 * np.eye(pb.d)
    m = torch.tensor(al * pb.mean)
    z = torch.randn(n, pb.d, generator=gen, dtype=torch.float64)
    x = m + z @ torch.tensor(np.linalg.cholesky(cov)).T
    score = -(x - m) @ torch.tensor(np.linalg.inv(cov))
    return x, score


def _method(spec):
    readings = {"value_target": "derived", "weighting": spec.get("weighting", "denoising")}
    return MFGDiffusion({"kind": "mfg", "readings": readings, "lambda": spec.get("lambda", 1.0),
                         "gamma": spec["gamma"]}, VPSDE())  # fmt: skip


def _group_stats(values):
    v = np.stack(values)
    return v.mean(0), v.std(0, ddof=1) / np.sqrt(len(v))


@pytest.mark.parametrize("i", [0, 9, 19])
def test_hjb_loss_is_mfg_residual_squared_and_gradient_matches_monte_carlo(i):
    """mfg.py's derived residual at x ~ p_{t_i}, on the value that interpolates V_i and V_{i+1},
    is the exact case's R_i sample by sample; E R_i^2 and its gradient match a Monte Carlo
    average of the per-sample loss and of its autograd gradient."""
    pb = p6.problem(SPEC, MEAN, COV)
    st = _random_state(pb, seed=2, scale=0.5)
    method, V = _method(SPEC), _IntervalValue(pb, st, i)
    Qc, Lc, Cc = (np.asarray(v)[0] for v in p6.residual_poly(pb, st["a"], st["b"], st["c"],
                                                              slice(i, i + 1)))  # fmt: skip
    loss, grad = p6.hjb_loss_grad(pb, st, slice(i, i + 1), terminal=False)
    gen = torch.Generator().manual_seed(i)
    losses, grads = [], []
    for _ in range(20):
        x, score = _marginal_draw(pb, i, 10_000, gen)
        res = method.hjb_residual(V, x, score, float(pb.t[i]), create_graph=True)
        y = (x @ V.basis).detach().numpy()
        mine = (Qc * y * y + Lc * y).sum(1) + Cc
        np.testing.assert_allclose(res.detach().numpy(), mine, rtol=1e-9, atol=1e-9)
        sq = res.square().mean()
        g = torch.autograd.grad(sq, [V.a0, V.a1, V.b0, V.b1, V.c0, V.c1])
        losses.append(float(sq.detach()))
        grads.append(np.concatenate([t.detach().numpy().ravel() for t in g]))
    m, se = _group_stats(losses)
    assert abs(m - loss) < 5 * se, (m, loss, se)
    ours = np.concatenate([grad["a"][i], grad["a"][i + 1], grad["b"][i], grad["b"][i + 1],
                           [grad["c"][i], grad["c"][i + 1]]])  # fmt: skip
    gm, gse = _group_stats(grads)
    assert np.all(np.abs(gm - ours) < 5 * gse + 1e-9 * np.abs(ours).max()), (gm, ours, gse)


@pytest.mark.parametrize("score_param", ["epsilon", "score"])
def test_fp_loss_and_gradient_match_algorithm1_by_monte_carlo(score_param):
    """algorithm1.fit's per-sample FP loss, weight (|s - s_eq|^2 + gamma |s|^2) with
    MFGDiffusion.s_eq, averaged over x ~ p_{t_i}, and its autograd gradient."""
    spec = {**SPEC, "gamma": 0.05, "score_param": score_param}
    pb = p6.problem(spec, MEAN, COV)
    st = _random_state(pb, seed=3, scale=0.5)
    i = 4
    method, V = _method(spec), _IntervalValue(pb, st, i)
    P = torch.tensor(st["P"][i], requires_grad=True)
    Q = torch.tensor(st["Q"][i], requires_grad=True)
    sig = float(pb.sigma[i, 0])
    loss, grad = p6.fp_loss_grad(pb, st, slice(i, i + 1))
    gen = torch.Generator().manual_seed(7)
    losses, grads = [], []
    for _ in range(20):
        x, score = _marginal_draw(pb, i, 10_000, gen)
        t = method.times_like(float(pb.t[i]), x)
        y = x @ V.basis
        p, q = (-P / sig, -Q / sig) if score_param == "epsilon" else (P, Q)
        s = (p * y + q) @ V.basis.T  # back to data coordinates
        target = method.s_eq(V, x, score, t)
        weight = method.coefficients(t, x)["weight"]
        per = (s - target).square().sum(1) + method.gamma * s.square().sum(1)
        fp = (weight * per).mean()
        g = torch.autograd.grad(fp, [P, Q])
        losses.append(float(fp.detach()))
        grads.append(np.concatenate([t.numpy() for t in g]))
    m, se = _group_stats(losses)
    assert abs(m - loss) < 5 * se, (m, loss, se)
    gm, gse = _group_stats(grads)
    ours = np.concatenate([grad["P"][i], grad["Q"][i]])
    assert np.all(np.abs(gm - ours) < 5 * gse + 1e-12), (gm, ours, gse)


def test_terminal_penalty_matches_monte_carlo():
    pb = p6.problem(SPEC, MEAN, COV)
    st = _random_state(pb, seed=4)
    y = np.random.default_rng(0).standard_normal((400_000, 2))
    v = (0.5 * st["a"][-1] * y * y + st["b"][-1] * y).sum(1) + st["c"][-1]
    per = (v - 0.5 * (y * y).sum(1)) ** 2
    loss = p6.terminal_loss_grad(st)[0]
    assert abs(per.mean() - loss) < 5 * per.std() / np.sqrt(len(per))


# --- (b) the fixed point -----------------------------------------------------------------------


def test_time_grid_is_algorithm1s():
    pb = p6.problem(SPEC, MEAN, COV)
    method = MFGDiffusion({"kind": "mfg"}, VPSDE())
    np.testing.assert_array_equal(pb.t, method.time_points(21))
    assert pb.h[-1, 0] == pytest.approx(1.0 - pb.t[-1])


@pytest.mark.parametrize("far_at", [None, 0])
def test_fixed_point_has_zero_residuals(far_at):
    fp = p6.fixed_point({**SPEC, "gamma": 0.0}, MEAN, COV, far_at=far_at)
    assert fp["hjb_rms"] < 1e-12 * max(1.0, np.abs(fp["a"]).max() ** 2)
    assert fp["fp_rms"] < 1e-12 * max(1.0, np.abs(fp["p"]).max())
    assert fp["terminal_rms"] == 0.0
    if far_at is None:  # the derived value decays backward from a(T) = 1 to 0
        assert np.all(np.diff(fp["a"], axis=0) >= 0) and np.all(fp["a"] >= 0)
    else:  # a spurious equilibrium: a negative root at t_1
        assert np.all(fp["a"][0] < -1.0) and np.all(fp["a"][1:] >= 0)


def test_spurious_root_at_the_last_grid_time_has_no_solution_below():
    with pytest.raises(ValueError, match="no real solution"):
        p6.fixed_point(SPEC, MEAN, COV, far_at=19)


def test_fixed_point_with_gamma_has_the_fp_floor_and_zero_gradients():
    fp = p6.fixed_point(SPEC, MEAN, COV)
    pb = p6.problem(SPEC, MEAN, COV)
    gap = np.sum(fp["p_eq"] ** 2 * pb.m2 + 2 * fp["p_eq"] * fp["q_eq"] * pb.mu + fp["q_eq"] ** 2, 1)
    g = SPEC["gamma"]
    assert fp["fp_rms"] == pytest.approx(g / (1 + g) * np.sqrt(gap.mean()), rel=1e-9)
    st = {k: fp[k] for k in (*p6.VALUE_KEYS, *p6.SCORE_KEYS)}
    for rows in [slice(None), *(slice(i, i + 1) for i in range(pb.n))]:
        for grads in (p6.hjb_loss_grad(pb, st, rows)[1], p6.fp_loss_grad(pb, st, rows)[1]):
            for k, v in grads.items():
                assert np.abs(v).max() < 1e-9, (rows, k)


@pytest.mark.parametrize("variant", [{}, {"terminal": "exact"}, {"sweep": "simultaneous"},
                                     {"score_param": "score"}])  # fmt: skip
def test_fixed_point_is_stationary_for_the_iteration(variant):
    spec = {**SPEC, **variant}
    fp = p6.fixed_point(spec, MEAN, COV)
    out = p6.iterate(spec, MEAN, COV, 1e-5, 3, init=fp)
    assert out["diverged_at"] == 0
    assert np.all(out["dist"] < 1e-12)
    assert np.all(out["hjb_rms"] < 1e-12)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"terminal": "exact", "score_param": "score"},
        {"hjb_batches": 2, "fp_batches": 3, "value_lr_scale": 0.5},
    ],
)
def test_float_kernel_equals_array_path(variant):  # fmt: skip
    spec = {**SPEC, **variant}
    fast = p6.iterate(spec, MEAN, COV, 3e-5, 40)
    slow = p6.iterate(spec, MEAN, COV, 3e-5, 40, fast=False)
    for k in (*p6.VALUE_KEYS, *p6.SCORE_KEYS):
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fast["fp_rms"], slow["fp_rms"], rtol=1e-10)


def test_adam_travels_at_most_alpha0_log_k():
    """Adam (algorithm1.fit's optimiser) moves a parameter by at most
    (1 - b1) / sqrt((1 - b2) (1 - b1^2 / b2)) ~ 7.3 step sizes per step (Cauchy-Schwarz on its
    moments), and Algorithm 1 makes N - 1 steps per outer iteration, so with alpha0 / k a
    parameter travels at most 7.3 (N - 1) alpha0 (1 + ln K): at the config's alpha0 = 2e-3 the
    iterate barely leaves its initialisation."""
    K, alpha0 = 128, 2e-3
    pb = p6.problem(SPEC, MEAN, COV)
    out = p6.iterate({**SPEC, "optimizer": "adam"}, MEAN, COV, alpha0, K)
    b1, b2 = p6.ADAM["beta1"], p6.ADAM["beta2"]
    per_step = (1 - b1) / np.sqrt((1 - b2) * (1 - b1**2 / b2))
    bound = per_step * pb.n * alpha0 * (1 + np.log(K))
    travel = max(np.abs(out[k]).max() for k in (*p6.VALUE_KEYS, *p6.SCORE_KEYS))
    assert 0 < travel <= bound
    assert out["dist"][-1] > 0.9 * out["dist"][0]


# --- (c) convergence and its rate --------------------------------------------------------------


@pytest.mark.parametrize("c", [0.5, 1.0])
def test_converges_to_the_fixed_point_at_rate_alpha0_mu(c):
    """On a well-conditioned case GD with alpha0 = c / mu_min converges to the fixed point, and
    each residual decays like K^(-alpha0 mu) with mu the smallest curvature of its block."""
    cv = p6.curvature(BENIGN, *BENIGN_LAW)
    alpha0 = c / cv["mu_min"]
    out = p6.iterate(BENIGN, *BENIGN_LAW, alpha0, 2048)
    assert out["diverged_at"] == 0
    assert out["dist"][-1] < 1e-2 * out["dist"][0]
    fp_slope = p6.tail_slope(out["k"], out["fp_rms"], 64)
    hjb_slope = p6.tail_slope(out["k"], out["hjb_rms"], 64)
    assert fp_slope == pytest.approx(-alpha0 * cv["score"].min(), abs=0.05)
    assert hjb_slope == pytest.approx(-alpha0 * cv["value"].min(), abs=0.1)


def test_large_steps_can_land_on_a_spurious_equilibrium():
    """At alpha0 = 0.75 / mu_min the benign case's iterates go to the other root of the discrete
    HJB (``far_at=0``), an exact equilibrium of the discrete system: the violation decays, the
    distance to the fixed point does not."""
    cv = p6.curvature(BENIGN, *BENIGN_LAW)
    out = p6.iterate(BENIGN, *BENIGN_LAW, 0.75 / cv["mu_min"], 2048)
    far = p6.fixed_point(BENIGN, *BENIGN_LAW, far_at=0)
    assert far["hjb_rms"] < 1e-9 * np.abs(far["a"]).max() ** 2 and far["a"][0, 0] < -100
    d_far = np.sqrt(sum(np.sum((out[k] - far[k]) ** 2) for k in (*p6.VALUE_KEYS, *p6.SCORE_KEYS)))
    assert d_far < 0.05 * out["dist"][-1]
    assert p6.tail_slope(out["k"], out["hjb_rms"], 256) < -0.5  # the violation still decays


def test_score_block_alone_converges_at_least_like_one_over_k():
    """The FP block with V held at V* (value_lr_scale 0): alpha0 mu_min = 2 gives a tail at least
    as steep as 1/K despite a transient (alpha0 mu_max ~ 36)."""
    spec = {**SPEC, "gamma": 0.0, "value_lr_scale": 0.0}
    cv = p6.curvature(spec, MEAN, COV)
    fp = p6.fixed_point(spec, MEAN, COV)
    init = {**{k: fp[k] for k in p6.VALUE_KEYS}, "P": 0 * fp["P"], "Q": 0 * fp["Q"]}
    out = p6.iterate(spec, MEAN, COV, 2.0 / cv["score"].min(), 1024, init=init)
    assert out["diverged_at"] == 0
    assert np.all(out["hjb_rms"] < 1e-12)  # V does not move
    assert p6.tail_slope(out["k"], out["fp_rms"], 128) < -1.0
    assert out["score_dist"][-1] < 1e-3 * out["score_dist"][0]


def test_printed_algorithm_does_not_decay_at_a_stable_step():
    """The finding on the config's case: one step size for both blocks, alpha0 = 1 / mu_max
    (stable), leaves the violation flat over K: the rate is alpha0 mu_min ~ 4e-6."""
    cv = p6.curvature(SPEC, MEAN, COV)
    assert cv["mu_max"] / cv["mu_min"] > 1e5
    out = p6.iterate(SPEC, MEAN, COV, 1.0 / cv["mu_max"], 512)
    tot = np.sqrt(out["hjb_rms"] ** 2 + out["terminal_rms"] ** 2 + out["fp_rms"] ** 2)
    assert out["diverged_at"] == 0
    assert abs(p6.tail_slope(out["k"], tot, 64)) < 0.01


def test_tail_slope_of_a_power_law():
    k = np.arange(1, 4097)
    assert p6.tail_slope(k, 3.0 * k**-0.7) == pytest.approx(-0.7, abs=1e-12)
    bad = 1.0 / k
    bad[200] = np.nan
    assert np.isnan(p6.tail_slope(k, bad))


# --- (d) the continuous limit ------------------------------------------------------------------


def test_discrete_fixed_point_approaches_the_continuous_equilibrium():
    """O(h) once h is below the stiff scale near T (1 / (2 r + beta kappa a) ~ 1/60): the max
    errors fall at least twofold per fivefold refinement from N = 105 on; at the config's
    N = 21 the s_eq error (RMS under p_t, score units) is ~0.5."""
    gaps = [p6.continuous_gap({**SPEC, "time_points": n}, MEAN, COV) for n in (21, 105, 525, 2625)]
    for key in ("a", "b", "s_eq"):
        assert gaps[3][key] < 0.5 * gaps[2][key] < 0.25 * gaps[1][key], key
    assert gaps[0]["s_eq"] < 1.0
    assert gaps[3]["s_eq"] < 0.05


# --- (e) hostile inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("alpha0", [0.0, -1.0, np.nan, np.inf])
def test_bad_alpha0_raises(alpha0):
    with pytest.raises(ValueError, match="alpha0"):
        p6.iterate(SPEC, MEAN, COV, alpha0, 4)


@pytest.mark.parametrize("K", [0, -3, 2.5, True])
def test_bad_K_raises(K):
    with pytest.raises(ValueError, match="K must"):
        p6.iterate(SPEC, MEAN, COV, 1e-5, K)


@pytest.mark.parametrize("cov", [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]],
                                 [[1.0, 0.5], [0.0, 1.0]], [[1.0, np.nan], [np.nan, 1.0]],
                                 [[1.0]]])  # fmt: skip
def test_bad_cov_raises(cov):
    for call in (lambda: p6.iterate(SPEC, MEAN, cov, 1e-5, 4),
                 lambda: p6.fixed_point(SPEC, MEAN, cov)):  # fmt: skip
        with pytest.raises(ValueError):
            call()


@pytest.mark.parametrize("spec", [{"weighting": "flat"}, {"time_points": 1}, {"gamma": -1.0},
                                  {"lambda": 0.0}, {"readings": {"value_target": "hjb_residual"}},
                                  {"optimizer": "sgd"}, {"value_lr_scale": -1.0},
                                  {"fp_batches": 0}])  # fmt: skip
def test_bad_spec_raises(spec):
    with pytest.raises(ValueError):
        p6.problem(spec, MEAN, COV)


@pytest.mark.parametrize("far_at", [-1, 20, 1.5])
def test_bad_far_at_raises(far_at):
    with pytest.raises(ValueError, match="far_at"):
        p6.fixed_point(SPEC, MEAN, COV, far_at=far_at)


# --- the workflow's job, table and ledger rows ----------------------------------------------------
def test_the_job_table_and_ledger_judge_the_exact_case(tmp_path):
    import yaml

    from mfgstudy.data import prepare
    from mfgstudy.jobs.proposition6 import exact_job
    from mfgstudy.pipeline import specs_closed_form
    from mfgstudy.report.claims.measures.proposition6 import violation_slope
    from mfgstudy.report.claims.verdicts import CONTEXT, FAILS, JUDGED, judge
    from mfgstudy.report.mfg import proposition6_table

    config = yaml.safe_load(open("config.yaml"))
    config["proposition6_exact"]["outer_iters"] = 256
    spec = specs_closed_form.proposition6_spec(config)
    data = tmp_path / "gaussian2d.zarr"
    prepare({**config["datasets"]["gaussian2d"], "name": "gaussian2d"}, str(data))
    exact_job(spec, str(data), str(tmp_path / "p6.zarr"))
    csv = tmp_path / "p6.csv"
    df = proposition6_table(spec, str(tmp_path / "p6.zarr"), str(csv), str(tmp_path / "p6.md"))
    assert list(df["alpha"]) == ["1/mu_max", "10/mu_max", "30/mu_max", "1.1/mu_min"]
    assert df["diverged_at"].iloc[-1] >= 1  # the step a rate of order 1 needs diverges
    ctx = SimpleNamespace(proposition6=pd.read_csv(csv), train_logs={})
    m = {"lr_schedules": ["inverse_k"], "variables": ["fp_residual_exact_rms"]}
    rows = violation_slope(m, ctx)
    judged = [c for c in rows if c.role == JUDGED]
    assert len(judged) == 3 and [c.role for c in rows][-1] == CONTEXT
    assert all(c.n_seeds == "exact" and c.ci_low == c.ci_high for c in judged)
    assert {judge("bound_slope", -1.0, c, 0.2)[0] for c in judged} == {FAILS}  # flat: ~0
    assert "diverges at k = " in rows[-1].reason
