"""Closed-form scores of the diffused data law under the VP SDE (no training).

A data law mu_0 diffused to time t is mu_t = law(alpha_t x_0 + sigma_t z).

* Gaussian mixture sum_k w_k N(m_k, C_k): mu_t = sum_k w_k N(alpha m_k, alpha^2 C_k + sigma^2 I),
  whose score is a responsibility-weighted sum of Gaussian scores.
* Empirical measure (1/M) sum_i delta_{x_i} (PDE-perspective paper, Prop. 4.4, eqs. 4.36-4.39):
  x0_bar(x, t) = sum_i lambda_i x_i with lambda = softmax(-|x - alpha x_i|^2 / (2 sigma^2)), and the
  score (alpha x0_bar - x) / sigma^2 (eq. 4.4).

Both work in float64 for the oracle experiments, and in batches over data points to bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mfgstudy.sde import VPSDE


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
