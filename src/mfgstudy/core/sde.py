"""The forward process: a variance-preserving (Ornstein-Uhlenbeck) SDE, its time grids, t_min.

    dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,   beta(t) = beta_min + (beta_max - beta_min) t / T

so that x_t = alpha(t) x_0 + sigma(t) z with alpha(t) = exp(-B(t)/2), sigma(t)^2 = 1 - exp(-B(t)),
B(t) = int_0^t beta. A constant beta (beta_min = beta_max = 2) is the OU process of the
PDE-perspective paper (dX = -X dt + sqrt(2) dW, alpha = e^{-t}).

Time grids run from T down to t_min and are images of a uniform grid u_i = i/N under a monotone
map, so the N-step grid is contained in the M-step grid whenever N divides M. The samplers rely on
this to drive coarse and fine grids with one Brownian path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

# A score grad_x log p_t(x) as a function of (x, t) with scalar t: what every sampler, perturbation
# and closed-form metric sees of a method (mfgstudy.methods.base.Method.score_fn gives one).
ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class VPSDE:
    beta_min: float = 0.1
    beta_max: float = 20.0
    T: float = 1.0
    t_min: float = 1e-3

    def __post_init__(self) -> None:
        if not (0 < self.t_min < self.T):
            raise ValueError(f"need 0 < t_min < T, got t_min={self.t_min}, T={self.T}")
        if self.beta_min <= 0 or self.beta_max < self.beta_min:
            raise ValueError(f"need 0 < beta_min <= beta_max, got {self.beta_min}, {self.beta_max}")

    @classmethod
    def from_spec(cls, spec: dict) -> VPSDE:
        if spec.get("kind", "vp") != "vp":
            raise ValueError(f"unknown SDE kind {spec.get('kind')!r}; only 'vp' is implemented")
        return cls(**{k: float(v) for k, v in spec.items() if k != "kind"})

    # --- schedule -----------------------------------------------------------------------------
    def beta(self, t):
        return self.beta_min + (self.beta_max - self.beta_min) * t / self.T

    def g2(self, t):
        """Squared diffusion coefficient g(t)^2 = beta(t)."""
        return self.beta(t)

    def integrated_beta(self, t):
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2 / self.T

    def inverse_integrated_beta(self, b):
        """t such that B(t) = b (the positive root, written to be stable when beta is constant)."""
        d = (self.beta_max - self.beta_min) / self.T
        return 2.0 * b / (self.beta_min + np.sqrt(self.beta_min**2 + 2.0 * d * b))

    def alpha(self, t):
        return np.exp(-0.5 * self.integrated_beta(t))

    def sigma2(self, t):
        return -np.expm1(-self.integrated_beta(t))

    def sigma(self, t):
        return np.sqrt(self.sigma2(t))

    def drift(self, x, t):
        """Forward drift f(x, t) = -beta(t) x / 2."""
        return -0.5 * self.beta(t) * x

    def edm_sigma(self, t):
        """Noise level of the equivalent variance-exploding process, sigma(t)/alpha(t)."""
        return np.sqrt(np.expm1(self.integrated_beta(t)))

    def t_from_edm_sigma(self, s):
        return self.inverse_integrated_beta(np.log1p(s**2))

    def marginal(self, x0, t, z):
        """x_t given x_0 and a standard normal z."""
        return float(self.alpha(t)) * x0 + float(self.sigma(t)) * z


GRID_KINDS = ("uniform", "edm", "discrete")


def time_grid(
    sde: VPSDE, n_steps: int, kind: str = "uniform", rho: float = 7.0, train_steps: int = 1000
) -> np.ndarray:
    """Descending times t_0 = T > t_1 > ... > t_N = t_min (float64, length N + 1).

    ``uniform``: equal steps in t. ``edm``: Karras et al.'s rho-polynomial in the noise level
    sigma/alpha, which puts most steps near t = 0. ``discrete``: N steps on a discrete training
    grid of ``train_steps`` equal intervals (as DDPM/DDIM step sub-sequences are chosen): every
    point, the previous timestep included, is a training-grid point, and there are exactly N
    steps for every N <= train_steps (the floor-division spacing of popular libraries gives fewer
    or uneven steps when N does not divide train_steps).
    """
    if n_steps < 1 or int(n_steps) != n_steps:
        raise ValueError(f"the number of steps must be a positive integer, got {n_steps!r}")
    u = np.arange(n_steps + 1, dtype=np.float64) / n_steps
    if kind == "uniform":
        t = sde.T + u * (sde.t_min - sde.T)
    elif kind == "discrete":
        if n_steps > train_steps:
            raise ValueError(f"discrete grid: {n_steps} steps > train_steps={train_steps}")
        k = np.round(np.linspace(train_steps, 0, n_steps + 1)).astype(np.int64)
        t = sde.t_min + (sde.T - sde.t_min) * k / train_steps
    elif kind == "edm":
        s_max = sde.edm_sigma(sde.T) ** (1.0 / rho)
        s_min = sde.edm_sigma(sde.t_min) ** (1.0 / rho)
        t = sde.t_from_edm_sigma((s_max + u * (s_min - s_max)) ** rho)
    else:
        raise ValueError(f"unknown time grid {kind!r}; choose from {GRID_KINDS}")
    t[0], t[-1] = sde.T, sde.t_min  # exact end points despite round-off in the maps
    return t


def stopped(sde: VPSDE, grid_spec: dict) -> VPSDE:
    """The SDE whose sampling ends at the grid's stopping time ``t_stop`` (default: t_min)."""
    if "t_stop" not in grid_spec:
        return sde
    return replace(sde, t_min=float(grid_spec["t_stop"]))


def grid_from_spec(sde: VPSDE, n_steps: int, spec: dict) -> np.ndarray:
    sde = stopped(sde, spec)
    return time_grid(
        sde, n_steps, spec["kind"], float(spec.get("rho", 7.0)), int(spec.get("train_steps", 1000))
    )


def discrete_indices(sde: VPSDE, grid: np.ndarray, train_steps: int) -> np.ndarray:
    """Training-grid indices of a grid's times (float; integers when the grid is on it)."""
    return (grid - sde.t_min) / (sde.T - sde.t_min) * train_steps


def check_nested(n_steps: int, reference_steps: int) -> None:
    if reference_steps % n_steps:
        raise ValueError(
            f"steps={n_steps} does not divide reference_steps={reference_steps}: the coarse grid "
            "must lie on the reference grid for the coupled (same Brownian path) estimate"
        )


def log_ratio_alpha(sde: VPSDE, t: float, t_next: float) -> float:
    """log(alpha(t) / alpha(t_next)) = -(B(t) - B(t_next)) / 2, computed without cancellation."""
    return -0.5 * (sde.integrated_beta(t) - sde.integrated_beta(t_next))


__all__ = ["VPSDE", "time_grid", "grid_from_spec", "stopped", "check_nested", "GRID_KINDS"]
