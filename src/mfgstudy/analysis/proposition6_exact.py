"""Proposition 6 on an exact finite-dimensional case: Algorithm 1 without a network.

Proposition 6 claims that with step sizes alpha_k = O(1/k) Algorithm 1's iterates satisfy
E[Violation] <= O(1/K), the violation being the left-hand side of the HJB-FP equilibrium
condition. The network runs (``mfgstudy.methods.mfg``, ``mfgstudy.training.algorithm1``) can test
this only for K = 4..16 outer iterations, where sampling noise and capacity dominate. Here the
iterates are computable exactly, so the claim can be followed over thousands of iterations.

The case
--------
A Gaussian data law N(m, S) (config ``gaussian2d``), the VP SDE, MFG-Diffusion under the reading
``value_target: derived``, ``weighting: denoising`` (``mfgstudy.methods.mfg``; config
``mfg_value_derived``), lambda's scale ``lambda`` and the score regulariser ``gamma``. Under the
VP SDE the marginal p_t is N(alpha m, alpha^2 S + sigma^2 I): in S's eigenbasis (``np.linalg.eigh``,
the basis of ``mfgstudy.analysis.mfg_equilibrium``) it factorises into independent directions
y_k ~ N(mu_k, w_k), with score -(y_k - mu_k) / w_k. The derived HJB's value is quadratic
(``mfg_equilibrium``), so the exact families, per grid time t_i and per eigen-direction k, are

    grad V(y, t_i) = a_ik y_k + b_ik,    V(y, t_i) = sum_k (a_ik y_k^2 / 2 + b_ik y_k) + c_i,
    s(y, t_i) = p_ik y_k + q_ik,

and they contain the equilibrium. The constant c_i (one per time, not per direction: the
value is one scalar function) does not enter grad V but enters the HJB residual through dV/dt,
so it is a parameter of the value too; without it the residual could not vanish.

Choices, and why each is the faithful finite-dimensional analog of Algorithm 1
--------------------------------------------------------------------------------
* Time grid: ``MFGDiffusion.time_points(time_points)``, t_i = t_min + (T - t_min) i / N for
  i = 1..N-1 (N = ``time_points``; config: 21, so 20 grid times), and t_N = T. The value and the
  score are "tabular in time": one parameter block per grid time (the networks share parameters
  across t; tabular blocks are the exact family on the grid).
* dV/dt, the one term of the derived HJB that is not pointwise in t, is discretised by the
  difference to the next grid time, (V(t_{i+1}) - V(t_i)) / (t_{i+1} - t_i), with V(t_N) the
  value at T. The residual at t_i is then

      R_i(y) = (V_{i+1}(y) - V_i(y)) / h_i + (f + beta grad log p_{t_i}) . grad V_i
               + beta/2 lap V_i - beta kappa/2 |grad V_i|^2,       kappa = beta / (2 lambda(t_i)),

  every other coefficient at t_i, V_i at t_i, y ~ p_{t_i}: exactly ``MFGDiffusion.hjb_residual``
  (derived reading, exact score in place of the estimate, as in ``hjb_residual_exact_rms``)
  applied to the value that interpolates V_i and V_{i+1} linearly in t (whose autograd dV/dt at t_i
  is this difference; ``tests/unit/test_proposition6_exact.py`` checks the identity). It is
  implicit Euler for the backward equation: R_i = 0 for all i has a solution, found by one
  backward sweep from V_N = Phi (``fixed_point``), so the discrete system has an exact
  equilibrium with residual exactly 0; per direction
  h beta kappa a_i^2 + (1 + 2 h r) a_i = a_{i+1} (r = beta (1/2 + 1/w)), whose positive root is
  taken (the other root is negative and tends to -inf as h -> 0: see the spurious equilibria
  below), and it
  converges to the Riccati solution of ``mfg_equilibrium.solve(..., "derived", ...)`` at O(h).
* Terminal value: ``terminal: penalty`` (default) keeps V(T) = (a_N, b_N, c_N) a parameter and adds
  to every HJB step the penalty E_{y ~ N(0, I)} (V(y, T) - |y|^2/2)^2, as
  ``MFGDiffusion.value_loss`` does; ``exact`` fixes V(T) = Phi = |x|^2/2. Both have the same
  fixed point (the penalty vanishes only at V(T) = Phi).
* HJB step (lines 5-12, ``update: descent``): a step of size alpha_k on
  L_HJB,i = E_{p_{t_i}}[R_i^2] (+ the terminal penalty), with respect to every value parameter
  it depends on ((a, b, c) at t_i and t_{i+1}: the network's dV/dt moves V at neighbouring
  times too). FP step (lines 13-19): a step of size alpha_k on
  L_FP,i = w(t_i) E_{p_{t_i}}[|s - s_eq|^2 + gamma |s|^2] with s_eq = grad log p - kappa grad V_i
  (eq. 23, with the value just updated), w(t) = lambda(t) / lambda = sigma_t^2: the loss of
  ``algorithm1.fit`` line for line (gamma regularises the SCORE, line 17, not the value).
  ``hjb_batches`` / ``fp_batches`` steps of each per grid time (default 1 and 1; config 1 and 4).
* Order (``sweep``): ``sequential`` (default) runs lines 4-20 as printed: for i = 1..N-1 the HJB
  step at t_i, then the FP step at t_i (``time_sampling: fixed``); ``simultaneous`` is the
  analog of ``time_sampling: continuous`` (each batch mixes all times): N-1 inner iterations per
  outer one, each a step on the average over the grid times. Both have the same first-order
  map per outer iteration, theta <- theta - alpha_k H (theta - theta*) (see ``curvature``).
* Measure update (lines 21-28, ``measure_update: printed``): the re-noised data law is the
  forward marginal p_{t_i}, known in closed form, so the measure is exact at every iteration and
  every expectation is a population expectation in closed form (Gaussian moments up to the
  fourth order): no sampling noise, so the "E" of Proposition 6 is trivial and the iterates are
  deterministic.
* Score parametrisation (``score_param``): ``epsilon`` (default) parametrises the score as
  s = -(P y + Q) / sigma_t, as ``MFGDiffusion.score_of`` does (s = -net / sigma, net linear in its
  last layer); the FP loss is then DDPM's epsilon loss, |eps - eps_eq|^2 + gamma |eps|^2, with
  curvature O(1) at every t. ``score`` takes (p, q) directly: the same family, a different
  gradient-descent metric (curvature w(t) = sigma_t^2 times the moments: ~1e-2 near t_1).
  The value is parametrised by (a, b, c) directly (V is the network's output).
* Step sizes: one alpha_k for both steps, as printed. ``value_lr_scale`` and
  ``score_lr_scale`` (default 1, i.e. Algorithm 1) multiply it for the HJB and the FP step: not
  part of the algorithm, they take the blocks apart (0 freezes one) and show what per-block
  step sizes would change.
* Initialisation: every parameter 0 (a freshly initialised network's V and eps are near 0).
* Optimiser (``optimizer``): ``gd`` (the algorithm as printed, theta <- theta - alpha_k grad L) or
  ``adam`` (what ``algorithm1.fit`` runs: torch.optim.Adam's update with betas (0.9, 0.999),
  eps 1e-8, one Adam state for V and one for s, lr alpha_k = alpha_0 / k as ``lr_schedule:
  inverse_k``). An Adam step moves a parameter by at most
  (1 - b1) / sqrt((1 - b2)(1 - b1^2 / b2)) ~ 7.3 times its step size (typically about 1 time),
  and Algorithm 1 makes N - 1 steps per outer iteration, so the total travel is at most
  7.3 (N - 1) alpha_0 (1 + ln K): with the config's alpha_0 = 2e-3 the iterate barely leaves
  its initialisation. Near a stationary point Adam is not stationary: it normalises round-off
  gradients up to steps of size ~alpha_k.

Violation at outer iteration k (after the measure update): ``hjb_rms`` = sqrt(mean_i
E_{p_{t_i}} R_i^2) and ``fp_rms`` = sqrt(mean_i E_{p_{t_i}} |s - s_eq|^2) in score units (the
analogs of ``hjb_residual_exact_rms`` and ``fp_residual_exact_rms``), exact; ``terminal_rms`` the
root of the terminal penalty, which must be counted too: V = 0 (the initialisation) solves the
interior HJB exactly (R_i = 0 for every i), so ``hjb_rms`` alone starts at 0 and grows while the
terminal value propagates back. With gamma > 0 the FP step's fixed point is
s = s_eq / (1 + gamma), so ``fp_rms`` has a floor gamma / (1 + gamma) RMS|s_eq| (1.9e-4 on the
config's case) that no K removes: the algorithm's fixed point is not the equilibrium; with
gamma = 0 it is, with both residuals 0. ``dist`` is the Euclidean distance of all parameters to
the fixed point, ``value_dist`` and ``score_dist`` the RMS over grid times of
E|grad V - grad V*|^2 and E|s - s*|^2 (s* the fixed point's score), parametrisation-free.

The discrete system has spurious exact equilibria besides the fixed point: each backward step
is a quadratic in a_i whose other root, about -(1 + 2 h r) / (h beta kappa), is negative and
O(1) on coarse grids (-1.9 at t_1 on the config's grid), and where the sweep below it still
has real solutions it is an equilibrium with zero violation (``fixed_point(..., far_at=i)``).
Large steps can throw the iteration onto one; the violation cannot tell (only ``dist`` can).

What it checks: the rate at which the violation decays in K. For gradient descent with
alpha_k = alpha_0 / k the error along a mode of curvature mu contracts like
prod_j (1 - alpha_0 mu / j) ~ K^(-alpha_0 mu), so the violation's tail slope is -alpha_0 mu_min
(mu_min the smallest eigenvalue of H), O(1/K) needs alpha_0 mu_min >= 1, and a step with
alpha_0 mu_max / k > 2 amplifies instead of contracting (for k < alpha_0 mu_max / 2); on a
nonlinear loss (the HJB loss is quartic) such a transient diverges. (At an integer
alpha_0 mu the factor j = alpha_0 mu is 0 and a linear mode is removed outright: use
non-integer values when reading rates.) ``curvature`` gives H's spectrum at the fixed point,
``tail_slope`` the fitted slope. On the config's case H's spectrum spans 0.17 (the score
block) to 4e4 (the value block: a at t_{N-1} = 0.95, where beta kappa = beta^2 / (2 sigma^2)
~ 180; the slowest value mode, 0.86, is the chain of constants c_i): with one step size,
alpha_0 mu_max must stay below ~30-50 to avoid divergence, which leaves alpha_0 mu_min <= ~2e-4
and a flat violation; ``tests/unit/test_proposition6_exact.py`` checks the rate law on a
well-conditioned case.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mfgstudy.core.sde import VPSDE

DEFAULTS = {
    "sde": {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1.0e-3},
    "time_points": 21,
    "lambda": 1.0,
    "gamma": 1.0e-4,
    "weighting": "denoising",
    "hjb_batches": 1,
    "fp_batches": 1,
    "terminal": "penalty",
    "score_param": "epsilon",
    "sweep": "sequential",
    "optimizer": "gd",
    "value_lr_scale": 1.0,
    "score_lr_scale": 1.0,
}
CHOICES = {
    "weighting": ("denoising", "constant"),
    "terminal": ("penalty", "exact"),
    "score_param": ("epsilon", "score"),
    "sweep": ("sequential", "simultaneous"),
    "optimizer": ("gd", "adam"),
}
ADAM = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # torch.optim.Adam's defaults
DIVERGED = 1e12  # a parameter beyond this: the iteration has diverged (recorded as nan)
VALUE_KEYS, SCORE_KEYS = ("a", "b", "c"), ("P", "Q")


def resolve(spec: dict | None) -> dict:
    """``spec`` over ``DEFAULTS``, validated. ``readings`` (a method spec's) may give
    ``weighting``; its ``value_target`` must be ``derived`` (the only reading modelled here)."""
    spec = dict(spec or {})
    readings = spec.pop("readings", None) or {}
    if readings.get("value_target", "derived") != "derived":
        raise ValueError("proposition6_exact models value_target: derived only, got "
                         f"{readings['value_target']!r}")  # fmt: skip
    if "weighting" in readings:
        spec.setdefault("weighting", readings["weighting"])
    out = {**DEFAULTS, **{k: v for k, v in spec.items() if k in DEFAULTS}}
    for k, choices in CHOICES.items():
        if out[k] not in choices:
            raise ValueError(f"{k}={out[k]!r}; choose from {choices}")
    for k in ("time_points", "hjb_batches", "fp_batches"):
        if int(out[k]) != out[k] or int(out[k]) < (2 if k == "time_points" else 1):
            raise ValueError(f"{k} must be an integer >= {2 if k == 'time_points' else 1}, "
                             f"got {out[k]!r}")  # fmt: skip
        out[k] = int(out[k])
    out["lambda"], out["gamma"] = float(out["lambda"]), float(out["gamma"])
    for k in ("value_lr_scale", "score_lr_scale"):
        out[k] = float(out[k])
        if not (np.isfinite(out[k]) and out[k] >= 0):
            raise ValueError(f"{k} must be finite and >= 0, got {out[k]}")
    if not out["lambda"] > 0:
        raise ValueError(f"lambda must be > 0, got {out['lambda']}")
    if not out["gamma"] >= 0:
        raise ValueError(f"gamma must be >= 0, got {out['gamma']}")
    return out


def spec_from_config(config: dict, method: str = "mfg_value_derived", data: str = "points",
                     **overrides) -> dict:  # fmt: skip
    """The spec of a loaded config.yaml's method ``method`` (its SDE, gamma, lambda, readings,
    and the ``data`` kind's time_points, hjb_batches, fp_batches), with ``overrides``."""
    m = config["methods"][method]
    train = m["train"][data]
    spec = {"sde": config["sde"], "lambda": m.get("lambda", 1.0), "gamma": m.get("gamma", 0.0),
            "readings": m.get("readings", {}),
            **{k: train[k] for k in ("time_points", "hjb_batches", "fp_batches")}}  # fmt: skip
    return resolve({**spec, **overrides})


@dataclass
class Problem:
    """The grid, the marginals and the coefficients of the exact case (rows: grid times
    t_1..t_{N-1}; columns: S's eigen-directions)."""

    spec: dict
    sde: VPSDE
    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self):
        self.var, self.basis = np.linalg.eigh(self.cov)
        self.rot_mean = self.basis.T @ self.mean
        sde, n_grid = self.sde, self.spec["time_points"]
        self.t = sde.t_min + (sde.T - sde.t_min) * np.arange(1, n_grid) / n_grid
        self.n, self.d = len(self.t), len(self.mean)
        self.h = np.diff(np.append(self.t, sde.T))[:, None]  # t_{i+1} - t_i, t_N = T
        al, s2 = sde.alpha(self.t)[:, None], sde.sigma2(self.t)[:, None]
        self.mu = al * self.rot_mean[None, :]
        self.w = al * al * self.var[None, :] + s2
        self.m2 = self.w + self.mu**2
        self.beta, self.sigma = sde.beta(self.t)[:, None], np.sqrt(s2)
        self.weight = s2 if self.spec["weighting"] == "denoising" else np.ones_like(s2)
        self.kappa = self.beta / (2.0 * self.spec["lambda"] * self.weight)
        self.bk = self.beta * self.kappa  # g^4 / (2 lambda(t))
        self.r = self.beta * (0.5 + 1.0 / self.w)  # -(f + beta grad log p) = r y - e
        self.e = self.beta * self.mu / self.w

    def zeros(self) -> dict:
        n, d = self.n, self.d
        return {"a": np.zeros((n + 1, d)), "b": np.zeros((n + 1, d)), "c": np.zeros(n + 1),
                "P": np.zeros((n, d)), "Q": np.zeros((n, d))}  # fmt: skip


def problem(spec: dict | None, mean, cov) -> Problem:
    """The exact case of ``spec`` (see ``resolve``) on the data law N(mean, cov)."""
    spec = resolve(spec)
    mean = np.asarray(mean, np.float64)
    cov = np.asarray(cov, np.float64)
    if mean.ndim != 1 or cov.shape != (len(mean), len(mean)) or len(mean) == 0:
        raise ValueError(f"need mean (d,) and cov (d, d), got {mean.shape} and {cov.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError("mean and cov must be finite")
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * max(1.0, np.abs(cov).max())):
        raise ValueError("cov must be symmetric")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise ValueError(f"cov must be positive definite, eigenvalues {np.linalg.eigvalsh(cov)}")
    return Problem(spec, VPSDE.from_spec(spec["sde"]), mean, cov)


# --- population losses and their gradients -----------------------------------------------------


def _square_moment(Qc, Lc, Cc, mu, w, m2):
    """E[R^2] for R(y) = sum_k (Qc_k y_k^2 + Lc_k y_k) + Cc with independent y_k ~ N(mu_k, w_k)
    (rows: independent problems), and its partials in (Qc, Lc, Cc)."""
    er = np.sum(Qc * m2 + Lc * mu, axis=1) + Cc
    g = 2.0 * Qc * mu + Lc  # R's slope at the mean, per direction
    sq = np.sum(2.0 * Qc * Qc * w * w + g * g * w, axis=1) + er * er  # Var + mean^2
    dQ = 4.0 * Qc * w * w + 4.0 * g * w * mu + 2.0 * er[:, None] * m2
    dL = 2.0 * g * w + 2.0 * er[:, None] * mu
    return sq, dQ, dL, 2.0 * er


def residual_poly(pb: Problem, a, b, c, rows=slice(None)):
    """The HJB residual R_i(y) = sum_k (Qc_ik y_k^2 + Lc_ik y_k) + Cc_i at the grid times
    ``rows`` (a slice), from the value at t_i and t_{i+1}."""
    i0, i1 = rows.indices(pb.n)[:2]
    cur, nxt = slice(i0, i1), slice(i0 + 1, i1 + 1)
    A, B, A1, B1 = a[cur], b[cur], a[nxt], b[nxt]
    h, beta, bk, r, e = pb.h[cur], pb.beta[cur], pb.bk[cur], pb.r[cur], pb.e[cur]
    Qc = (A1 - A) / (2.0 * h) - r * A - 0.5 * bk * A * A
    Lc = (B1 - B) / h + e * A - r * B - bk * A * B
    Cc = (c[nxt] - c[cur]) / h[:, 0] + np.sum(e * B + 0.5 * beta * A - 0.5 * bk * B * B, axis=1)
    return Qc, Lc, Cc


def hjb_loss_grad(pb: Problem, st: dict, rows=slice(None), terminal: bool | None = None):
    """(loss, gradient in a, b, c) of one HJB step on the grid times ``rows``: the mean over
    them of E_{p_{t_i}} R_i^2, plus the terminal penalty (``terminal``; default: under
    ``terminal: penalty``)."""
    a, b, c = st["a"], st["b"], st["c"]
    i0, i1 = rows.indices(pb.n)[:2]
    cur, nxt, m = slice(i0, i1), slice(i0 + 1, i1 + 1), i1 - i0
    Qc, Lc, Cc = residual_poly(pb, a, b, c, cur)
    sq, dQ, dL, dC = _square_moment(Qc, Lc, Cc, pb.mu[cur], pb.w[cur], pb.m2[cur])
    A, B = a[cur], b[cur]
    h, beta, bk, r, e = pb.h[cur], pb.beta[cur], pb.bk[cur], pb.r[cur], pb.e[cur]
    ga, gb, gc = np.zeros_like(a), np.zeros_like(b), np.zeros_like(c)
    ga[cur] += (dQ * (-0.5 / h - r - bk * A) + dL * (e - bk * B) + dC[:, None] * 0.5 * beta) / m
    ga[nxt] += dQ * (0.5 / h) / m
    gb[cur] += (dL * (-1.0 / h - r - bk * A) + dC[:, None] * (e - bk * B)) / m
    gb[nxt] += dL / h / m
    gc[cur] -= dC / h[:, 0] / m
    gc[nxt] += dC / h[:, 0] / m
    loss = float(np.mean(sq))
    if terminal is None:
        terminal = pb.spec["terminal"] == "penalty"
    if terminal:
        lt, (dat, dbt, dct) = terminal_loss_grad(st)
        loss += lt
        ga[-1] += dat
        gb[-1] += dbt
        gc[-1] += dct
    return loss, {"a": ga, "b": gb, "c": gc}


def terminal_loss_grad(st: dict):
    """E_{y ~ N(0, I)} (V(y, T) - |y|^2 / 2)^2 (``MFGDiffusion.value_loss``'s terminal term; Phi
    is rotation invariant, so the eigenbasis changes nothing) and its gradient in
    (a_N, b_N, c_N)."""
    a, b, c = st["a"][-1:], st["b"][-1:], st["c"][-1:]
    zero, one = np.zeros_like(a), np.ones_like(a)
    sq, dQ, dL, dC = _square_moment(0.5 * (a - 1.0), b, c, zero, one, one)
    return float(sq[0]), (0.5 * dQ[0], dL[0], dC[0])


def score_coefficients(pb: Problem, P, Q, rows=slice(None)):
    """(p, q) with s(y, t_i) = p y + q at the grid times ``rows``, from the parameters of
    ``score_param`` (P, Q: those rows' parameters)."""
    if pb.spec["score_param"] == "epsilon":
        return -P / pb.sigma[rows], -Q / pb.sigma[rows]
    return P, Q


def s_eq_coefficients(pb: Problem, a, b):
    """(p_eq, q_eq): s_eq = grad log p - kappa grad V at the grid times (eq. 23, line 16)."""
    return -1.0 / pb.w - pb.kappa * a[: pb.n], pb.mu / pb.w - pb.kappa * b[: pb.n]


def _affine_sq(dp, dq, mu, m2):
    """E|dp y + dq|^2 per row, y's directions independent N(mu, w) with E y^2 = m2."""
    return np.sum(dp * dp * m2 + 2.0 * dp * dq * mu + dq * dq, axis=1)


def fp_loss_grad(pb: Problem, st: dict, rows=slice(None)):
    """(loss, gradient in P, Q) of one FP step on the grid times ``rows``: the mean over them
    of w(t_i) E_{p_{t_i}}[|s - s_eq|^2 + gamma |s|^2], s_eq from the current value."""
    i0, i1 = rows.indices(pb.n)[:2]
    cur, m, gam = slice(i0, i1), i1 - i0, pb.spec["gamma"]
    p, q = score_coefficients(pb, st["P"][cur], st["Q"][cur], cur)
    pe, qe = s_eq_coefficients(pb, st["a"], st["b"])
    pe, qe = pe[cur], qe[cur]
    mu, m2, wt = pb.mu[cur], pb.m2[cur], pb.weight[cur]
    loss = wt[:, 0] * (_affine_sq(p - pe, q - qe, mu, m2) + gam * _affine_sq(p, q, mu, m2))
    dp, dq = (1.0 + gam) * p - pe, (1.0 + gam) * q - qe
    gp = 2.0 * wt * (dp * m2 + dq * mu) / m
    gq = 2.0 * wt * (dp * mu + dq) / m
    if pb.spec["score_param"] == "epsilon":
        gp, gq = -gp / pb.sigma[cur], -gq / pb.sigma[cur]
    gP, gQ = np.zeros_like(st["P"]), np.zeros_like(st["Q"])
    gP[cur], gQ[cur] = gp, gq
    return float(np.mean(loss)), {"P": gP, "Q": gQ}


# --- violation, fixed point, iteration ---------------------------------------------------------


def violation(pb: Problem, st: dict) -> dict:
    """The exact violation: RMS over the grid times of the HJB residual and of |s - s_eq| under
    p_{t_i} (the analogs of ``hjb_residual_exact_rms`` and ``fp_residual_exact_rms``), and the
    root of the terminal penalty."""
    Qc, Lc, Cc = residual_poly(pb, st["a"], st["b"], st["c"])
    sq = _square_moment(Qc, Lc, Cc, pb.mu, pb.w, pb.m2)[0]
    p, q = score_coefficients(pb, st["P"], st["Q"])
    pe, qe = s_eq_coefficients(pb, st["a"], st["b"])
    gap = _affine_sq(p - pe, q - qe, pb.mu, pb.m2)
    return {"hjb_rms": float(np.sqrt(np.mean(sq))), "fp_rms": float(np.sqrt(np.mean(gap))),
            "terminal_rms": float(np.sqrt(terminal_loss_grad(st)[0]))}  # fmt: skip


def _fixed_point(pb: Problem, far_at: int | None = None) -> dict:
    n, gam = pb.n, pb.spec["gamma"]
    if far_at is not None and (isinstance(far_at, bool) or int(far_at) != far_at
                               or not 0 <= far_at < n):  # fmt: skip
        raise ValueError(f"far_at must be None or a grid index in [0, {n}), got {far_at!r}")
    st = pb.zeros()
    st["a"][n] = 1.0  # V(T) = Phi = |y|^2 / 2 (b_N = c_N = 0)
    for i in range(n - 1, -1, -1):  # implicit Euler backward: R_i = 0 given V_{i+1}
        h, bk, r, e = pb.h[i], pb.bk[i], pb.r[i], pb.e[i]
        a1 = st["a"][i + 1]
        lin = 1.0 + 2.0 * h * r
        disc = lin * lin + 4.0 * h * bk * a1
        if np.any(disc < 0):
            raise ValueError(f"the discrete HJB has no real solution at t={pb.t[i]:g}")
        if i != far_at:  # the root continuous in h (a -> a1 as h -> 0)
            a = 2.0 * a1 / (lin + np.sqrt(disc))
        else:  # the spurious root, -(1 + 2 h r) / (h beta kappa) and below: -inf as h -> 0
            a = -(lin + np.sqrt(disc)) / (2.0 * h * bk)
        b = (st["b"][i + 1] + h * e * a) / (1.0 + h * r + h * bk * a)
        st["a"][i], st["b"][i] = a, b
        st["c"][i] = st["c"][i + 1] + h[0] * np.sum(e * b + 0.5 * pb.beta[i] * a
                                                    - 0.5 * bk * b * b)  # fmt: skip
    pe, qe = s_eq_coefficients(pb, st["a"], st["b"])
    p, q = pe / (1.0 + gam), qe / (1.0 + gam)  # the FP step's minimiser
    if pb.spec["score_param"] == "epsilon":
        st["P"], st["Q"] = -p * pb.sigma, -q * pb.sigma
    else:
        st["P"], st["Q"] = p, q
    return st


def fixed_point(spec: dict | None, mean, cov, far_at: int | None = None) -> dict:
    """The fixed point of the iteration, from the discrete equations: R_i = 0 by a backward
    sweep from V(T) = Phi, then s = s_eq / (1 + gamma) (the FP step's minimiser). Each step of
    the sweep solves a quadratic in a_i; the root that tends to the continuous solution is
    taken, except at grid index ``far_at`` (0-based, t_{far_at + 1}) where the other root is: a
    spurious exact equilibrium of the discrete system (zero residual too; a ValueError where
    the sweep then has no real solution below it), onto which large gradient steps can throw
    the iteration. Returns its
    parameters (a, b, c: (N, d), (N, d), (N,), the last row at T; P, Q: (N-1, d) in
    ``score_param``), the score coefficients p, q, s_eq's p_eq, q_eq, the grid times ``t`` and
    its violation (``hjb_rms`` 0 to round-off; ``fp_rms`` gamma / (1 + gamma) RMS|s_eq|)."""
    pb = problem(spec, mean, cov)
    st = _fixed_point(pb, far_at)
    p, q = score_coefficients(pb, st["P"], st["Q"])
    pe, qe = s_eq_coefficients(pb, st["a"], st["b"])
    return {**st, "p": p, "q": q, "p_eq": pe, "q_eq": qe, "t": pb.t.copy(),
            **{k: np.array(v) for k, v in violation(pb, st).items()}}  # fmt: skip


def outer_gradient(pb: Problem, st: dict) -> dict:
    """The gradient that one outer iteration applies to first order in alpha:
    hjb_batches (sum_i grad L_HJB,i [+ (N-1) grad of the terminal penalty]) and
    fp_batches sum_i grad L_FP,i (the same for both sweeps)."""
    n, sp = pb.n, pb.spec
    _, gv = hjb_loss_grad(pb, st, slice(None), terminal=False)
    gv = {k: v * n for k, v in gv.items()}
    if sp["terminal"] == "penalty":
        _, (da, db, dc) = terminal_loss_grad(st)
        gv["a"][-1] += n * da
        gv["b"][-1] += n * db
        gv["c"][-1] += n * dc
    else:
        for k in VALUE_KEYS:
            gv[k][-1] = 0.0
    _, gs = fp_loss_grad(pb, st, slice(None))
    out = {k: v * sp["hjb_batches"] for k, v in gv.items()}
    out.update({k: v * n * sp["fp_batches"] for k, v in gs.items()})
    return out


def _free(pb: Problem, keys) -> list[tuple[str, tuple]]:
    """(key, index) of each free parameter (V(T) is fixed under ``terminal: exact``)."""
    out = []
    for k in keys:
        shape = pb.zeros()[k].shape
        for idx in np.ndindex(*shape):
            if k in VALUE_KEYS and idx[0] == pb.n and pb.spec["terminal"] == "exact":
                continue
            out.append((k, idx))
    return out


def curvature(spec: dict | None, mean, cov, eps: float = 1e-6) -> dict:
    """The spectrum of H, the Jacobian of ``outer_gradient`` at the fixed point (central
    differences of the exact gradient), per block: the iteration is block triangular (the
    value never sees the score), so H's eigenvalues are those of the value block and of the
    score block. Returns {"value": eigenvalues, "score": eigenvalues, "mu_min", "mu_max"}."""
    pb = problem(spec, mean, cov)
    star = _fixed_point(pb)
    out = {}
    for name, keys in (("value", VALUE_KEYS), ("score", SCORE_KEYS)):
        free = _free(pb, keys)
        H = np.empty((len(free), len(free)))
        for j, (k, idx) in enumerate(free):
            cols = []
            for sgn in (1.0, -1.0):
                st = {key: v.copy() for key, v in star.items()}
                st[k][idx] += sgn * eps
                g = outer_gradient(pb, st)
                cols.append(np.array([g[kk][ii] for kk, ii in free]))
            H[:, j] = (cols[0] - cols[1]) / (2 * eps)
        H = 0.5 * (H + H.T)  # the gradient of a sum of losses: H is a Hessian
        out[name] = np.linalg.eigvalsh(H)
    ev = np.concatenate([out["value"], out["score"]])
    out["mu_min"], out["mu_max"] = float(ev.min()), float(ev.max())
    return out


def _distances(pb: Problem, st: dict, star: dict) -> dict:
    dist = np.sqrt(sum(np.sum((st[k] - star[k]) ** 2) for k in (*VALUE_KEYS, *SCORE_KEYS)))
    n = pb.n
    dv = _affine_sq(st["a"][:n] - star["a"][:n], st["b"][:n] - star["b"][:n], pb.mu, pb.m2)
    p, q = score_coefficients(pb, st["P"], st["Q"])
    ps, qs = score_coefficients(pb, star["P"], star["Q"])
    ds = _affine_sq(p - ps, q - qs, pb.mu, pb.m2)
    return {"dist": float(dist), "value_dist": float(np.sqrt(np.mean(dv))),
            "score_dist": float(np.sqrt(np.mean(ds)))}  # fmt: skip


class _Optimiser:
    """Gradient descent or torch.optim.Adam's update on a dict of arrays, in place."""

    def __init__(self, kind: str, params: dict, frozen_last: bool):
        self.kind, self.frozen_last, self.t = kind, frozen_last, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict, grads: dict, lr: float) -> None:
        self.t += 1
        b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["eps"]
        for k, g in grads.items():
            if self.frozen_last:
                g[-1] = 0.0
            if self.kind == "gd":
                params[k] -= lr * g
                continue
            m, v = self.m[k], self.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v / (1 - b2**self.t)) + eps
            params[k] -= (lr / (1 - b1**self.t)) * m / denom


class _SequentialGD:
    """Lines 4-20 with plain gradient steps, one grid time at a time, in Python floats: the
    arithmetic of ``hjb_loss_grad`` / ``fp_loss_grad`` on one row, some 10 times faster than
    the array path for the small d here (``tests/unit/test_proposition6_exact.py`` checks that
    the two give the same iterates)."""

    def __init__(self, pb: Problem, st: dict):
        self.pb, sp = pb, pb.spec
        self.n, self.d = pb.n, pb.d
        self.a, self.b = st["a"].tolist(), st["b"].tolist()
        self.c, self.P, self.Q = st["c"].tolist(), st["P"].tolist(), st["Q"].tolist()
        col = lambda v: v[:, 0].tolist()  # noqa: E731
        self.h, self.beta, self.bk = col(pb.h), col(pb.beta), col(pb.bk)
        self.kappa, self.weight, self.sigma = col(pb.kappa), col(pb.weight), col(pb.sigma)
        self.r, self.e = pb.r.tolist(), pb.e.tolist()
        self.mu, self.w, self.m2 = pb.mu.tolist(), pb.w.tolist(), pb.m2.tolist()
        self.gamma, self.eps_param = sp["gamma"], sp["score_param"] == "epsilon"
        self.penalty, self.hb, self.fb = sp["terminal"] == "penalty", sp["hjb_batches"], sp[
            "fp_batches"]  # fmt: skip
        self.v_scale, self.s_scale = sp["value_lr_scale"], sp["score_lr_scale"]

    def state(self) -> dict:
        return {"a": np.array(self.a), "b": np.array(self.b), "c": np.array(self.c),
                "P": np.array(self.P), "Q": np.array(self.Q)}  # fmt: skip

    def hjb_step(self, i: int, lr: float) -> None:
        d, n = self.d, self.n
        A, A1, B, B1 = self.a[i], self.a[i + 1], self.b[i], self.b[i + 1]
        h, beta, bk = self.h[i], self.beta[i], self.bk[i]
        r, e, mu, w, m2 = self.r[i], self.e[i], self.mu[i], self.w[i], self.m2[i]
        qs, ls = [0.0] * d, [0.0] * d
        er = (self.c[i + 1] - self.c[i]) / h
        for k in range(d):
            ak, bkk = A[k], B[k]
            q = (A1[k] - ak) / (2.0 * h) - r[k] * ak - 0.5 * bk * ak * ak
            lin = (B1[k] - bkk) / h + e[k] * ak - r[k] * bkk - bk * ak * bkk
            qs[k], ls[k] = q, lin
            er += e[k] * bkk + 0.5 * beta * ak - 0.5 * bk * bkk * bkk + q * m2[k] + lin * mu[k]
        dC = 2.0 * er
        ga, ga1, gb, gb1 = [0.0] * d, [0.0] * d, [0.0] * d, [0.0] * d
        for k in range(d):
            q, lin = qs[k], ls[k]
            g = 2.0 * q * mu[k] + lin
            dQ = 4.0 * q * w[k] * w[k] + 4.0 * g * w[k] * mu[k] + dC * m2[k]
            dL = 2.0 * g * w[k] + dC * mu[k]
            ga[k] = dQ * (-0.5 / h - r[k] - bk * A[k]) + dL * (e[k] - bk * B[k]) + dC * 0.5 * beta
            ga1[k] = dQ * (0.5 / h)
            gb[k] = dL * (-1.0 / h - r[k] - bk * A[k]) + dC * (e[k] - bk * B[k])
            gb1[k] = dL / h
        gc, gc1 = -dC / h, dC / h
        if self.penalty:  # the terminal term, at the same (pre-step) point
            aN, bN = self.a[n], self.b[n]
            et = self.c[n] + sum(0.5 * (aN[k] - 1.0) for k in range(d))
            ta = [(aN[k] - 1.0) + et for k in range(d)]
            tb = [2.0 * bN[k] for k in range(d)]
            tc = 2.0 * et
            for k in range(d):
                aN[k] -= lr * ta[k]
                bN[k] -= lr * tb[k]
            self.c[n] -= lr * tc
        last_fixed = i + 1 == n and not self.penalty
        for k in range(d):
            A[k] -= lr * ga[k]
            B[k] -= lr * gb[k]
            if not last_fixed:
                A1[k] -= lr * ga1[k]
                B1[k] -= lr * gb1[k]
        self.c[i] -= lr * gc
        if not last_fixed:
            self.c[i + 1] -= lr * gc1

    def fp_step(self, i: int, lr: float) -> None:
        gam, kap, wt, sig = self.gamma, self.kappa[i], self.weight[i], self.sigma[i]
        A, B, P, Q = self.a[i], self.b[i], self.P[i], self.Q[i]
        mu, w, m2 = self.mu[i], self.w[i], self.m2[i]
        for k in range(self.d):
            pe, qe = -1.0 / w[k] - kap * A[k], mu[k] / w[k] - kap * B[k]
            p, q = (-P[k] / sig, -Q[k] / sig) if self.eps_param else (P[k], Q[k])
            dp, dq = (1.0 + gam) * p - pe, (1.0 + gam) * q - qe
            gp, gq = 2.0 * wt * (dp * m2[k] + dq * mu[k]), 2.0 * wt * (dp * mu[k] + dq)
            if self.eps_param:
                gp, gq = -gp / sig, -gq / sig
            P[k] -= lr * gp
            Q[k] -= lr * gq

    def outer(self, lr: float) -> dict:
        for i in range(self.n):
            for _ in range(self.hb):
                self.hjb_step(i, lr * self.v_scale)
            for _ in range(self.fb):
                self.fp_step(i, lr * self.s_scale)
        return self.state()


class _ArrayLoop:
    """One outer iteration with the array functions (any sweep, either optimiser)."""

    def __init__(self, pb: Problem, st: dict):
        self.pb, self.st, sp, n = pb, st, pb.spec, pb.n
        frozen = sp["terminal"] == "exact"
        self.vparams = {k: st[k] for k in VALUE_KEYS}
        self.sparams = {k: st[k] for k in SCORE_KEYS}
        self.opt_v = _Optimiser(sp["optimizer"], self.vparams, frozen)
        self.opt_s = _Optimiser(sp["optimizer"], self.sparams, False)
        if sp["sweep"] == "sequential":  # lines 4-20: HJB then FP at each t_i in turn
            self.plan = [slice(i, i + 1) for i in range(n)]
        else:  # every batch mixes the grid times: N-1 steps on their average
            self.plan = [slice(0, n)] * n

    def outer(self, lr: float) -> dict:
        pb, st, sp = self.pb, self.st, self.pb.spec
        for rows in self.plan:
            for _ in range(sp["hjb_batches"]):
                grad = hjb_loss_grad(pb, st, rows)[1]
                self.opt_v.step(self.vparams, grad, lr * sp["value_lr_scale"])
            for _ in range(sp["fp_batches"]):
                grad = fp_loss_grad(pb, st, rows)[1]
                self.opt_s.step(self.sparams, grad, lr * sp["score_lr_scale"])
        return st


def iterate(spec: dict | None, mean, cov, alpha0: float, K: int, init: dict | None = None,
            fast: bool = True) -> dict:  # fmt: skip
    """Run K outer iterations of Algorithm 1 on the exact case with alpha_k = alpha0 / k, from
    the zero initialisation (or the state ``init``: a dict of a, b, c, P, Q).

    Returns arrays over k = 1..K: ``k``, ``alpha`` (alpha_k), the violation after iteration k
    (``hjb_rms``, ``fp_rms``, ``terminal_rms``), the distances to ``fixed_point`` (``dist``,
    ``value_dist``, ``score_dist``), all nan from the first iteration whose parameters are
    non-finite or beyond ``DIVERGED``; ``diverged_at`` (that k, or 0), ``wall_s``, and the last
    parameters (``a``, ``b``, ``c``, ``P``, ``Q``). ``fast``: the float kernel for sequential
    gradient descent (the array path otherwise, and always for ``adam`` or ``simultaneous``)."""
    if not (np.isfinite(alpha0) and alpha0 > 0):
        raise ValueError(f"alpha0 must be a finite positive number, got {alpha0!r}")
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    K = int(K)
    pb = problem(spec, mean, cov)
    sp, n = pb.spec, pb.n
    star = _fixed_point(pb)
    st = pb.zeros()
    if init is not None:
        for k in st:
            st[k] = np.array(init[k], np.float64).reshape(st[k].shape)
    if sp["terminal"] == "exact":
        st["a"][n], st["b"][n], st["c"][n] = 1.0, 0.0, 0.0
    use_fast = fast and sp["optimizer"] == "gd" and sp["sweep"] == "sequential"
    loop = _SequentialGD(pb, st) if use_fast else _ArrayLoop(pb, st)
    names = ("hjb_rms", "fp_rms", "terminal_rms", "dist", "value_dist", "score_dist")
    rec = {k: np.full(K, np.nan) for k in names}
    diverged, tic = 0, time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, K + 1):
            cur = loop.outer(alpha0 / k)
            if not all(np.all(np.abs(v) < DIVERGED) for v in cur.values()):
                diverged = k
                break
            st = cur
            # lines 21-28: the re-noised data law is p_{t_i} itself, exact; nothing to update
            row = {**violation(pb, st), **_distances(pb, st, star)}
            for name in names:
                rec[name][k - 1] = row[name]
    return {"k": np.arange(1, K + 1), "alpha": alpha0 / np.arange(1, K + 1), **rec,
            "diverged_at": np.array(diverged), "wall_s": np.array(time.perf_counter() - tic),
            **{k: np.array(v, copy=True) for k, v in st.items()}}  # fmt: skip


def tail_slope(k, values, k_min: int = 64, k_max: int | None = None) -> float:
    """Least-squares slope of log(values) against log(k) over k_min <= k <= k_max, on
    log-spaced k (each octave weighs the same); nan if any value there is not finite and
    positive (a diverged run, or a value at round-off zero)."""
    k, values = np.asarray(k), np.asarray(values, np.float64)
    k_max = int(k.max()) if k_max is None else k_max
    pick = np.unique(np.round(np.geomspace(k_min, k_max, 41)).astype(int))
    v = values[np.searchsorted(k, pick)]
    if not np.all(np.isfinite(v) & (v > 0)):
        return float("nan")
    return float(np.polyfit(np.log(pick), np.log(v), 1)[0])


def continuous_gap(spec: dict | None, mean, cov) -> dict:
    """The discrete fixed point against the continuous equilibrium of
    ``mfg_equilibrium.solve(sde, mean, cov, "derived", weighting, lambda)`` at the grid times:
    max |a_i - a(t_i)|, max |b_i - b(t_i)| and the RMS over the grid of E|s_eq,i - s_eq(t_i)|^2
    under p_{t_i} (gamma's shrinkage excluded: s_eq of both)."""
    from mfgstudy.analysis.mfg_equilibrium import solve

    pb = problem(spec, mean, cov)
    st = _fixed_point(pb)
    eq = solve(pb.sde, pb.mean, pb.cov, "derived", pb.spec["weighting"], pb.spec["lambda"])
    ab = np.array([np.concatenate(eq.value_coefficients(float(t))) for t in pb.t])
    a_c, b_c = ab[:, : pb.d], ab[:, pb.d :]
    pe, qe = s_eq_coefficients(pb, st["a"], st["b"])
    pc, qc = -1.0 / pb.w - pb.kappa * a_c, pb.mu / pb.w - pb.kappa * b_c
    gap = _affine_sq(pe - pc, qe - qc, pb.mu, pb.m2)
    return {"a": float(np.abs(st["a"][: pb.n] - a_c).max()),
            "b": float(np.abs(st["b"][: pb.n] - b_c).max()),
            "s_eq": float(np.sqrt(np.mean(gap)))}  # fmt: skip
