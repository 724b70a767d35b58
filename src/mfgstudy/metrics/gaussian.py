"""The exact law of an N-step sampler when the data law is Gaussian, and its N -> infinity limit.

For a Gaussian data law N(m, Sigma) the score is affine, s_t(x) = P_t x + q_t with
P_t = -(alpha^2 Sigma + sigma^2 I)^-1 and q_t = -P_t alpha m, so every sampler step is affine in
(x, z): x' = A x + b + C z. We read A, b, C off the sampler's own ``step`` by probing it at 0 and
at the unit vectors, and push the mean and covariance through: m' = A m + b,
S' = A S A^T + C C^T. This tests the samplers' code, not a re-derivation of it.

The continuous-time limit (the law the N-step law should converge to) solves the moment ODEs of
the reverse SDE (stochastic samplers) or of the probability-flow ODE (deterministic ones) from
N(0, I) at T down to t_min, to a tolerance far below any discretisation error we measure. The two
limits differ slightly because N(0, I) is not exactly the diffused law at T. W2 between Gaussians
is closed form.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.integrate import solve_ivp

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import Sampler
from mfgstudy.core.sde import VPSDE, ScoreFn


def affine_step(sampler: Sampler, sde: VPSDE, score: ScoreFn, t: float, t_next: float, d: int):
    """(A, b, C) with step(x, z) = A x + b + C z, as float64 tensors."""
    eye = torch.eye(d, dtype=torch.float64)
    zeros = torch.zeros(d + 1, d, dtype=torch.float64)
    x = torch.cat([torch.zeros(1, d, dtype=torch.float64), eye])
    out = sampler.step(sde, score, x, t, t_next, zeros if sampler.stochastic else None)
    b = out[0]
    A = (out[1:] - b).T
    if sampler.stochastic:
        zz = torch.cat([torch.zeros(1, d, dtype=torch.float64), eye])
        outz = sampler.step(sde, score, torch.zeros(d + 1, d, dtype=torch.float64), t, t_next, zz)
        C = (outz[1:] - outz[0]).T
    else:
        C = torch.zeros(d, d, dtype=torch.float64)
    return A, b, C


def sampler_law(sampler: Sampler, sde: VPSDE, score: ScoreFn, grid: np.ndarray, d: int):
    """Mean and covariance of the sampler's output started from x_T ~ N(0, I)."""
    m = torch.zeros(d, dtype=torch.float64)
    S = torch.eye(d, dtype=torch.float64)
    for k in range(len(grid) - 1):
        A, b, C = affine_step(sampler, sde, score, float(grid[k]), float(grid[k + 1]), d)
        m = A @ m + b
        S = A @ S @ A.T + C @ C.T
    return m.numpy(), 0.5 * (S + S.T).numpy()


def continuous_law(sde: VPSDE, gaussian: GaussianMixture, stochastic: bool, rtol: float = 1e-11):
    """Mean and covariance at t_min of the reverse SDE (``stochastic``) or the probability-flow
    ODE started from N(0, I) at T, for a one-component ``gaussian`` data law."""
    if len(gaussian.weights) != 1:
        raise ValueError("the closed-form limit needs a single Gaussian data law")
    d = gaussian.dim
    mean0, cov0 = gaussian.means[0].numpy(), gaussian.covs[0].numpy()

    def rhs(t, y):
        m, S = y[:d], y[d:].reshape(d, d)
        a, s2, beta = float(sde.alpha(t)), float(sde.sigma2(t)), float(sde.beta(t))
        P = -np.linalg.inv(a * a * cov0 + s2 * np.eye(d))
        q = -P @ (a * mean0)
        k = 1.0 if stochastic else 0.5  # drift f - k g^2 s
        F, c = -0.5 * beta * np.eye(d) - k * beta * P, -k * beta * q  # dx/dt = F x + c (+ noise)
        dS = F @ S + S @ F.T - (beta * np.eye(d) if stochastic else 0.0)
        return np.concatenate([F @ m + c, dS.ravel()])

    y0 = np.concatenate([np.zeros(d), np.eye(d).ravel()])
    sol = solve_ivp(rhs, (sde.T, sde.t_min), y0, method="Radau", rtol=rtol, atol=rtol * 1e-2)
    if not sol.success:
        raise RuntimeError(f"moment ODE failed: {sol.message}")
    y = sol.y[:, -1]
    S = y[d:].reshape(d, d)
    return y[:d], 0.5 * (S + S.T)


def theorem2_law(sde: VPSDE, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance at t_min of the exact reverse SDE for a Dirac data law at x0 started
    from N(0, I) at T: the PDE paper's Theorem 2 (eq. 4.12), written for its OU process
    dX = -X dt + sqrt(2) dW. A constant beta is that process in the time tau = beta t / 2:
    X_s = sinh(T-s)/sinh(T) X_0 + sinh(s)/sinh(T) x0 + sqrt(2 sinh(T-s) sinh(s)/sinh(T)) eps,
    evaluated at s = T - t_min (all in tau units)."""
    if sde.beta_min != sde.beta_max:
        raise ValueError("Theorem 2 is stated for the OU process: a constant beta is needed")
    scale = 0.5 * sde.beta_min
    big_t, t = scale * sde.T, scale * sde.t_min
    x0 = np.asarray(x0, np.float64)
    mean = np.sinh(big_t - t) / np.sinh(big_t) * x0  # sinh(s)/sinh(T) x0 with s = T - t
    var = (np.sinh(t) / np.sinh(big_t)) ** 2 + 2.0 * np.sinh(t) * np.sinh(big_t - t) / np.sinh(
        big_t
    )
    return mean, var * np.eye(x0.size)


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (S + S.T))
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def w2_gaussians(m1, S1, m2, S2) -> float:
    """W2 between N(m1, S1) and N(m2, S2) (Bures-Wasserstein)."""
    m1, m2 = np.asarray(m1, np.float64), np.asarray(m2, np.float64)
    S1, S2 = np.asarray(S1, np.float64), np.asarray(S2, np.float64)
    r2 = _psd_sqrt(S2)
    cross = _psd_sqrt(r2 @ S1 @ r2)
    val = float(np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2 * cross))
    return float(np.sqrt(max(val, 0.0)))
