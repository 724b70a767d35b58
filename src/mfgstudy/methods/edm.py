"""EDM (Karras et al. 2022): preconditioned denoiser, log-normal noise levels, its own weighting.

In EDM's variance-exploding coordinates y = x0 + sigma n, the network F gives the denoiser
D(y; sigma) = c_skip y + c_out F(c_in y, c_noise) with c_skip = sd^2 / (sigma^2 + sd^2),
c_out = sigma sd / sqrt(sigma^2 + sd^2), c_in = 1 / sqrt(sigma^2 + sd^2), c_noise = ln(sigma) / 4
(sd = sigma_data). Training draws ln sigma ~ N(p_mean, p_std^2) and weights the denoising error
by (sigma^2 + sd^2) / (sigma sd)^2.

Score for the shared VP samplers: x_t = alpha_t y with sigma = sigma_t / alpha_t, so
s(x, t) = (alpha_t D(x / alpha_t; sigma) - x) / sigma_t^2.
"""

from __future__ import annotations

import math

import torch

from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method


class EDM(Method):
    def _precond(self, sigma: torch.Tensor):
        sd = float(self.spec.get("sigma_data", 0.5))
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1.0 / (sigma**2 + sd**2).sqrt()
        return c_skip, c_out, c_in, sigma.log() / 4.0

    def denoise(self, net, y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(y; sigma) for a batch; sigma has shape (n,)."""
        shape = (-1,) + (1,) * (y.dim() - 1)
        c_skip, c_out, c_in, c_noise = self._precond(sigma)
        f = net(c_in.reshape(shape) * y, c_noise.float())
        return c_skip.reshape(shape) * y + c_out.reshape(shape) * f

    def loss(self, net, x0, gen):
        n, dev = x0.shape[0], x0.device  # draws on the CPU generator, then moved
        log_sigma = float(self.spec.get("p_mean", -1.2)) + float(
            self.spec.get("p_std", 1.2)
        ) * torch.randn(n, generator=gen).to(dev)
        sigma = log_sigma.exp()
        sd = float(self.spec.get("sigma_data", 0.5))
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        noise = torch.randn(x0.shape, generator=gen).to(dev)
        y = x0 + sigma.reshape((-1,) + (1,) * (x0.dim() - 1)) * noise
        err = (self.denoise(net, y, sigma) - x0).square().flatten(1).sum(1)
        loss = (weight * err).mean()
        return loss, {"weighted_denoising_mse": float(loss.detach())}

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            a, s2 = float(self.sde.alpha(t)), float(self.sde.sigma2(t))
            sigma = torch.full((x.shape[0],), math.sqrt(s2) / a, device=x.device)
            d = self.denoise(net, (x / a).float(), sigma).to(x.dtype)
            return (a * d - x) / s2

        return score


METHOD = EDM  # this module is method kind "edm" (mfgstudy.methods.registry)
