"""MFG-Diffusion's equilibrium in closed form on a Gaussian data law, per reading of its HJB.

Under the VP forward process a Gaussian data law N(m, S) has Gaussian marginals
p_t = N(alpha m, alpha^2 S + sigma^2 I) and an affine score grad log p_t = P_t x + q_t. All
covariances share S's eigenvectors, so in S's eigenbasis every coordinate is a 1-D problem: data
N(m_k, v_k), marginal mean mu_t = alpha m_k, variance w_t = alpha^2 v_k + sigma^2, score
-(x - mu_t) / w_t. With f = -beta x / 2, g^2 = beta and the quadratic terminal value
V(x, T) = x^2 / 2 that Algorithm 1's HJB step fits (``mfgstudy.methods.mfg``), the value
V = a(t) x^2 / 2 + b(t) x + c(t) is quadratic and (a, b) solve a Riccati ODE backward from
a(T) = 1, b(T) = 0. With kappa = beta / (2 lambda(t)) (the correction's factor in eq. 23):

``hjb_residual`` (the printed eq. 24:
-V_t + f V_x + beta/2 V_xx - beta kappa/2 V_x^2 + lambda (x - mu)^2 / w^2 = 0)
    a' = -beta a - beta kappa a^2 + 2 lambda / w^2,
    b' = -beta b / 2 - beta kappa a b - 2 lambda mu / w^2;
``derived`` (the HJB of dynamics (11) and cost (13):
V_t + (f + beta grad log p) V_x + beta/2 V_xx - beta kappa/2 V_x^2 = 0)
    a' = 2 r a + beta kappa a^2,                  r = beta (1/2 + 1/w),
    b' = r b - (beta mu / w) a + beta kappa a b;
``algorithm1`` (line 10 at its minimum, no ODE): V_x = -kappa grad log p, a = kappa / w,
    b = -kappa mu / w;
``off`` (the control): a = b = 0.

Backward from T, the printed eq. (24)'s a grows like a Riccati equation with a positive square
term and blows up at a finite time t* (reported where |a| first exceeds ``BLOWUP``); the derived
a decays to 0 (its square term has the damping sign), so its solution exists on [t_min, T].
Beyond the quadratic ansatz eq. (24) with a terminal value is a backward heat equation
(+beta/2 lap V with the time derivative's sign flipped): ill-posed, a grid solve blows up at once,
which is why ``tests/unit/test_mfg_equilibrium.py`` checks it by substitution and the derived HJB
against a finite-difference solve.
The equilibrium score (eq. 23) is s_eq = grad log p - kappa (a x + b): affine, so every
sampler's output law is Gaussian and ``mfgstudy.metrics.gaussian.sampler_law`` pushes it
through the sampler's own step map; its W2 to the data law is closed form. ``lambda(t)`` follows
the method's ``weighting`` reading (lambda, or lambda sigma_t^2).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import build_sampler
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.methods.mfg import READINGS
from mfgstudy.metrics.gaussian import sampler_law, w2_gaussians

log = logging.getLogger(__name__)

VALUE_TARGETS = ("hjb_residual", "derived", "algorithm1", "off")
WEIGHTINGS = ("denoising", "constant")
BLOWUP = 1e6  # |a| beyond this: the quadratic solution has left every finite scale
DIVERGED = 1e8  # an output mean or variance beyond this: the sampler's iterates diverged


@dataclass
class Equilibrium:
    """The closed-form equilibrium of one reading on a Gaussian law N(mean, cov)."""

    sde: VPSDE
    mean: np.ndarray
    cov: np.ndarray
    value_target: str
    weighting: str
    lam: float
    exists: bool
    t_blowup: float  # nan where the solution exists on [t_min, T]
    _sol: object = None  # dense ODE solution of (a, b) in the eigenbasis (ODE readings)

    def __post_init__(self):
        self.var, self.basis = np.linalg.eigh(np.asarray(self.cov, np.float64))
        self.rot_mean = self.basis.T @ np.asarray(self.mean, np.float64)

    def lambda_t(self, t: float) -> float:
        return self.lam * (float(self.sde.sigma2(t)) if self.weighting == "denoising" else 1.0)

    def kappa(self, t: float) -> float:
        """g^2 / (2 lambda(t)): the factor of grad V in s_eq (eq. 23)."""
        return float(self.sde.beta(t)) / (2.0 * self.lambda_t(t))

    def marginal(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Per eigen-direction mean and variance of p_t."""
        al, s2 = float(self.sde.alpha(t)), float(self.sde.sigma2(t))
        return al * self.rot_mean, al * al * self.var + s2

    def value_coefficients(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) per eigen-direction at t: grad V = a x + b in the eigenbasis."""
        d = len(self.var)
        if self.value_target == "off":
            return np.zeros(d), np.zeros(d)
        mu, w = self.marginal(t)
        if self.value_target == "algorithm1":
            k = self.kappa(t)
            return k / w, -k * mu / w
        if not self.exists and t < self.t_blowup:
            raise ValueError(f"the {self.value_target} value does not exist at t={t:g} "
                             f"(it blows up at t={self.t_blowup:.4g})")  # fmt: skip
        y = self._sol.sol(t)
        return y[:d], y[d:]

    def value_gradient(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(A, c) with grad V(x, t) = A x + c in data coordinates."""
        a, b = self.value_coefficients(t)
        return (self.basis * a) @ self.basis.T, self.basis @ b

    def true_score(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(P, q) with grad log p_t(x) = P x + q in data coordinates."""
        mu, w = self.marginal(t)
        return -(self.basis / w) @ self.basis.T, self.basis @ (mu / w)

    def score(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(P_eq, q_eq) with s_eq(x, t) = P_eq x + q_eq (eq. 23) in data coordinates."""
        (P, q), (A, c), k = self.true_score(t), self.value_gradient(t), self.kappa(t)
        return P - k * A, q - k * c

    def score_fn(self):
        """s_eq as a sampler's score function (x of shape (n, d), scalar t)."""

        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            P, q = (torch.as_tensor(v, dtype=x.dtype) for v in self.score(float(t)))
            return x @ P.T + q

        return score


CONSTANTS = {"lambda": 1.0, "gamma": 0.0}  # the paper's free constants, as MFGDiffusion reads them


def reading_of(method_spec: dict) -> dict:
    """Every switch of an ``mfg`` method's spec and its constants lambda and gamma, the defaults
    filled in as MFG-Diffusion fills them (``mfgstudy.methods.mfg.READINGS``: the first entry of
    each switch)."""
    readings = method_spec.get("readings", {})
    switches = {k: readings.get(k, v[0]) for k, v in READINGS.items()}
    return {**switches, **{k: float(method_spec.get(k, v)) for k, v in CONSTANTS.items()}}


def solve(sde: VPSDE, mean, cov, value_target: str, weighting: str = "denoising",
          lam: float = 1.0, rtol: float = 1e-10) -> Equilibrium:  # fmt: skip
    """The equilibrium of ``value_target`` under ``weighting`` with lambda's scale ``lam``."""
    if value_target not in VALUE_TARGETS:
        raise ValueError(f"value_target {value_target!r}; choose from {VALUE_TARGETS}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting {weighting!r}; choose from {WEIGHTINGS}")
    eq = Equilibrium(sde, np.asarray(mean, np.float64), np.asarray(cov, np.float64),
                     value_target, weighting, float(lam), True, np.nan)  # fmt: skip
    if value_target in ("algorithm1", "off"):
        return eq
    d = len(eq.var)

    def rhs(t, y):
        a, b = y[:d], y[d:]
        mu, w = eq.marginal(t)
        beta, lam_t = float(sde.beta(t)), eq.lambda_t(t)
        kb = beta * eq.kappa(t)  # beta kappa = g^4 / (2 lambda)
        if value_target == "hjb_residual":
            da = -beta * a - kb * a * a + 2.0 * lam_t / w**2
            db = -0.5 * beta * b - kb * a * b - 2.0 * lam_t * mu / w**2
        else:
            r = beta * (0.5 + 1.0 / w)
            da = 2.0 * r * a + kb * a * a
            db = r * b - beta * mu / w * a + kb * a * b
        return np.concatenate([da, db])

    def blowup(t, y):
        return BLOWUP - np.max(np.abs(y[:d]))

    blowup.terminal = True
    y0 = np.concatenate([np.ones(d), np.zeros(d)])
    sol = solve_ivp(rhs, (sde.T, sde.t_min), y0, method="LSODA", rtol=rtol, atol=1e-12,
                    dense_output=True, events=blowup)  # fmt: skip
    if not sol.success:
        raise RuntimeError(f"the {value_target} Riccati ODE failed: {sol.message}")
    eq._sol = sol
    if sol.t_events[0].size:
        eq.exists, eq.t_blowup = False, float(sol.t_events[0][0])
    return eq


def output_law(eq: Equilibrium, sampler_spec: dict, grid_spec: dict, steps: int):
    """Mean and covariance of the sampler's output under s_eq (None where s_eq does not exist
    on the whole grid, or the sampler's iterates diverge: a mean or a variance beyond
    ``DIVERGED``)."""
    if not eq.exists:
        return None
    sampler = build_sampler(sampler_spec)
    grid = grid_from_spec(eq.sde, steps, grid_spec)
    m, S = sampler_law(sampler, eq.sde, eq.score_fn(), grid, len(eq.var))
    if not (np.all(np.isfinite(S)) and np.abs(m).max() < DIVERGED and np.trace(S) < DIVERGED):
        return None
    return m, S


def equilibrium_rows(spec: dict, mean, cov) -> tuple[list[dict], list[dict]]:
    """One row per (value_target, weighting, lambda, sampler, steps): existence, blow-up time,
    the correction's size, and the output law's W2 to the data law and to the control's
    (``off``: the true score, DDPM's target) under the same sampler; and the correction's size
    against t per reading (the figure's curves)."""
    sde = VPSDE.from_spec(spec["sde"])
    probe_t = np.geomspace(sde.t_min, sde.T, int(spec.get("probe_times", 41)))
    rows, curves, controls = [], [], {}
    targets = ["off", *[v for v in spec["value_targets"] if v != "off"]]
    for weighting, lam, target in itertools.product(spec["weightings"], spec["lambdas"], targets):
        eq = solve(sde, mean, cov, target, weighting, lam)
        key = {"value_target": target, "weighting": weighting, "lambda": float(lam)}
        corr = np.array([_correction_ratio(eq, t) if eq.exists or t >= eq.t_blowup else np.nan
                         for t in probe_t])  # fmt: skip
        curves += [{**key, "t": float(t), "correction": float(c)}
                   for t, c in zip(probe_t, corr, strict=True)]  # fmt: skip
        shown = np.isfinite(corr)
        base = {**key, "exists": bool(eq.exists), "t_blowup": eq.t_blowup,
                "correction_max": float(corr[shown].max()),
                "t_correction_max": float(probe_t[shown][np.argmax(corr[shown])])}  # fmt: skip
        for (name, smp), n in itertools.product(spec["samplers"].items(), spec["steps"]):
            law = output_law(eq, smp, spec["grid"], int(n))
            if target == "off":
                controls[(weighting, lam, name, n)] = law
            ctrl = controls[(weighting, lam, name, n)]
            rows.append({**base, "sampler": name, "steps": int(n),
                         "w2_to_data": np.nan if law is None else w2_gaussians(*law, mean, cov),
                         "w2_to_control": (np.nan if law is None or ctrl is None
                                           else w2_gaussians(*law, *ctrl)),
                         "finite_output": law is not None})  # fmt: skip
        log.info("%s / %s / lambda %g: exists %s, blow-up at t=%.4g, max correction %.3g", target,
                 weighting, lam, eq.exists, eq.t_blowup, base["correction_max"])  # fmt: skip
    return rows, curves


def _correction_ratio(eq: Equilibrium, t: float) -> float:
    """|kappa grad V| / |grad log p| in the largest eigen-direction's operator norm: how much
    the value correction changes the score at t (0 for the control)."""
    (P, _), (A, _) = eq.true_score(t), eq.value_gradient(t)
    return float(eq.kappa(t) * np.linalg.norm(A, 2) / np.linalg.norm(P, 2))


def gaussian_law(data: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """(mean, cov) of a one-component data law."""
    if len(data.weights) != 1:
        raise ValueError("the closed-form MFG equilibrium needs a Gaussian data law (one "
                         f"component), got {len(data.weights)} components")  # fmt: skip
    return data.means[0].numpy(), data.covs[0].numpy()
