"""Closed-form scores of the diffused data law under the VP SDE (no training).

A data law mu_0 diffused to time t is mu_t = law(alpha_t x_0 + sigma_t z).

* Gaussian mixture sum_k w_k N(m_k, C_k): mu_t = sum_k w_k N(alpha m_k, alpha^2 C_k + sigma^2 I),
  whose score is a responsibility-weighted sum of Gaussian scores.
* Empirical measure (1/M) sum_i delta_{x_i} (PDE-perspective paper, Prop. 4.4, eqs. 4.36-4.39):
  x0_bar(x, t) = sum_i lambda_i x_i with lambda = softmax(-|x - alpha x_i|^2 / (2 sigma^2)), and the
  score (alpha x0_bar - x) / sigma^2 (eq. 4.4).
* Uniform law on a union of disjoint axis-aligned boxes (the checkerboard): each box diffuses to a
  product of Gaussian-smoothed uniforms, [Phi((alpha b - x)/sigma) - Phi((alpha a - x)/sigma)] /
  (alpha (b - a)) per coordinate, mixed with weights proportional to the volumes.

Both work in float64 for the oracle experiments, and in batches over data points to bound memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from mfgstudy.core.sde import VPSDE


@dataclass
class GaussianMixture:
    weights: torch.Tensor  # (K,)
    means: torch.Tensor  # (K, d)
    covs: torch.Tensor  # (K, d, d)

    @classmethod
    def gaussian(cls, mean, cov) -> GaussianMixture:
        """A single Gaussian N(mean, cov) as a one-component mixture (float64)."""
        mean = torch.as_tensor(mean, dtype=torch.float64)
        cov = torch.as_tensor(cov, dtype=torch.float64)
        return cls(torch.ones(1, dtype=torch.float64), mean[None], cov[None])

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def diffused(self, sde: VPSDE, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and covariances of the components of mu_t."""
        a, s2 = float(sde.alpha(t)), float(sde.sigma2(t))
        eye = torch.eye(self.dim, dtype=self.covs.dtype)
        return a * self.means, a * a * self.covs + s2 * eye

    def log_density(self, x: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
        """log mu_t(x) for x of shape (n, d)."""
        m, c = self.diffused(sde, t)
        x = x.to(m.dtype)
        dist = torch.distributions.MultivariateNormal(m, covariance_matrix=c)
        logp = dist.log_prob(x[:, None, :]) + torch.log(self.weights / self.weights.sum())
        return torch.logsumexp(logp, dim=1)

    def score(self, x: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
        """grad_x log mu_t(x), closed form, shape of x."""
        m, c = self.diffused(sde, t)
        xd = x.to(m.dtype)
        prec = torch.linalg.inv(c)  # (K, d, d)
        diff = xd[:, None, :] - m[None]  # (n, K, d)
        comp_scores = -torch.einsum("kij,nkj->nki", prec, diff)
        logdet = torch.logdet(c)
        quad = (diff * -comp_scores).sum(-1)
        logw = torch.log(self.weights / self.weights.sum())
        resp = torch.softmax(logw - 0.5 * logdet - 0.5 * quad, dim=1)  # (n, K)
        return (resp[..., None] * comp_scores).sum(1).to(x.dtype)


_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log1mexp(d: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(d)) for d <= 0, accurate near 0 and for large |d| (Maechler's two branches)."""
    return torch.where(d > -math.log(2.0), torch.log(-torch.expm1(d)), torch.log1p(-torch.exp(d)))


@dataclass
class BoxUniform:
    """The uniform law on a union of K disjoint axis-aligned boxes [lows_k, highs_k] in R^d.

    Diffused, each coordinate of box k is a uniform law convolved with a Gaussian:
    mu_t = sum_k w_k prod_j [Phi(u_kj) - Phi(l_kj)] / (alpha (b_kj - a_kj)), with
    u = (alpha b - x)/sigma, l = (alpha a - x)/sigma and w_k = vol_k / sum vol. Every factor is
    evaluated in log space on the tail where it does not cancel (u + l <= 0 after reflecting
    u, l -> -l, -u), so that points tens of thousands of sigmas from a box stay finite.
    """

    lows: torch.Tensor  # (K, d)
    highs: torch.Tensor  # (K, d)

    @classmethod
    def checkerboard(cls, cells: int, half_width: float) -> BoxUniform:
        """The black cells (i + j even) of :func:`mfgstudy.data.sample_checkerboard`'s board."""
        side = 2.0 * half_width / cells
        black = [(i, j) for i in range(cells) for j in range(cells) if (i + j) % 2 == 0]
        ij = torch.tensor(black, dtype=torch.float64)
        return cls(-half_width + side * ij, -half_width + side * (ij + 1.0))

    @property
    def dim(self) -> int:
        return self.lows.shape[1]

    def log_weights(self) -> torch.Tensor:
        """log(vol_k / sum vol), shape (K,)."""
        logvol = torch.log((self.highs - self.lows).to(torch.float64)).sum(1)
        return logvol - torch.logsumexp(logvol, 0)

    def _terms(self, x: torch.Tensor, sde: VPSDE, t: float):
        """Per box and coordinate: the sign of the reflection, hi >= lo with hi + lo <= 0 and
        log(Phi(hi) - Phi(lo)) = log(Phi(u) - Phi(l)), and the log-density of box k at x."""
        a, s = float(sde.alpha(t)), float(sde.sigma(t))
        xd = x.to(torch.float64)[:, None, :]  # (n, 1, d)
        lo_box, hi_box = self.lows.to(torch.float64), self.highs.to(torch.float64)
        u = (a * hi_box - xd) / s  # (n, K, d)
        low = (a * lo_box - xd) / s
        flip = (u + low) > 0  # both large positive: use Phi(u) - Phi(l) = Phi(-l) - Phi(-u)
        hi = torch.where(flip, -low, u)
        lo = torch.where(flip, -u, low)
        log_hi = torch.special.log_ndtr(hi)
        log_delta = log_hi + _log1mexp(torch.special.log_ndtr(lo) - log_hi)
        width = a * (hi_box - lo_box)  # (K, d)
        log_box = (log_delta - torch.log(width)).sum(-1) + self.log_weights()  # (n, K)
        return flip, hi, lo, log_delta, log_box, s, width / s

    def log_density(self, x: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
        """log mu_t(x) for x of shape (n, d), float64."""
        return torch.logsumexp(self._terms(x, sde, t)[4], dim=1)

    def score(self, x: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
        """grad_x log mu_t(x), closed form, shape and dtype of x.

        Per coordinate d/dx log(Phi(u) - Phi(l)) = (phi(l) - phi(u)) / (sigma (Phi(u) - Phi(l))),
        written as +-exp(log phi(hi) - log delta) expm1((hi - lo)(hi + lo) / 2) / sigma, a product
        of a bounded factor and one in [-1, 0], with no cancellation.
        """
        flip, hi, lo, log_delta, log_box, s, w = self._terms(x, sde, t)
        log_phi_hi = -0.5 * hi.square() - _LOG_SQRT_2PI
        g = torch.exp(log_phi_hi - log_delta) * torch.expm1(0.5 * w * (hi + lo))
        comp = torch.where(flip, -g, g) / s  # (n, K, d)
        resp = torch.softmax(log_box, dim=1)
        return (resp[..., None] * comp).sum(1).to(x.dtype)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws from the undiffused law, (n, d) float64."""
        from mfgstudy.metrics.support import sample_boxes

        return sample_boxes(self.lows.double().numpy(), self.highs.double().numpy(), n, rng)


def kernel_mean(
    x: torch.Tensor, points: torch.Tensor, scale: float, var: float, chunk: int = 4096
) -> torch.Tensor:
    """sum_i lambda_i points_i with lambda = softmax(-|x - scale points_i|^2 / (2 var)): the
    posterior mean of the points under a Gaussian kernel, any event shape, in chunks over x."""
    xf = x.reshape(x.shape[0], -1).to(points.dtype)
    pf = points.reshape(points.shape[0], -1)
    out = torch.empty_like(xf)
    for lo in range(0, xf.shape[0], chunk):
        d2 = torch.cdist(xf[lo : lo + chunk], scale * pf).square()
        out[lo : lo + chunk] = torch.softmax(-d2 / (2.0 * var), dim=1) @ pf
    return out.reshape(x.shape).to(x.dtype)


def empirical_x0_bar(x: torch.Tensor, points: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
    """E[x_0 | x_t = x] for the empirical measure on ``points`` (eq. 4.36-4.39), any event shape."""
    return kernel_mean(x, points, float(sde.alpha(t)), float(sde.sigma2(t)))


def empirical_score(x: torch.Tensor, points: torch.Tensor, sde: VPSDE, t: float) -> torch.Tensor:
    a, s2 = float(sde.alpha(t)), float(sde.sigma2(t))
    return (a * empirical_x0_bar(x, points, sde, t) - x) / s2


def empirical_log_density(x: torch.Tensor, points: torch.Tensor, sde: VPSDE, t: float):
    """log mu_t(x) up to an additive constant, for autograd checks of :func:`empirical_score`."""
    a, s2 = float(sde.alpha(t)), float(sde.sigma2(t))
    xf, pf = x.reshape(x.shape[0], -1), points.reshape(points.shape[0], -1)
    d2 = (xf[:, None, :] - a * pf[None]).square().sum(-1)
    return torch.logsumexp(-d2 / (2.0 * s2), dim=1)
