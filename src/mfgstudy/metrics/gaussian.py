"""The exact law of an N-step sampler when the data law is Gaussian.

For a Gaussian data law the score is affine in x, so every sampler step is affine in (x, z):
x' = A x + b + C z. We read A, b, C off the sampler's own ``step`` by probing it at 0 and at the
unit vectors, and push the mean and covariance through: m' = A m + b, S' = A S A^T + C C^T. This
tests the samplers' code, not a re-derivation of it. W2 between Gaussians is then closed form.
"""

from __future__ import annotations

import numpy as np
import torch

from mfgstudy.methods.base import ScoreFn
from mfgstudy.samplers import Sampler
from mfgstudy.sde import VPSDE


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


def _psd_sqrt(S: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (S + S.T))
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def w2_gaussians(m1, S1, m2, S2) -> float:
    """W2 between N(m1, S1) and N(m2, S2) (Bures-Wasserstein)."""
    r2 = _psd_sqrt(S2)
    cross = _psd_sqrt(r2 @ S1 @ r2)
    val = float(np.sum((np.asarray(m1) - np.asarray(m2)) ** 2) + np.trace(S1 + S2 - 2 * cross))
    return float(np.sqrt(max(val, 0.0)))
