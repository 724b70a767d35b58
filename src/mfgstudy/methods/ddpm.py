"""DDPM with epsilon prediction (Ho et al. 2020) in continuous time on the VP SDE.

Loss: E_{t, x0, z} || eps_theta(alpha_t x0 + sigma_t z, t) - z ||^2 with t ~ U[t_min, T].
Score: s(x, t) = -eps_theta(x, t) / sigma_t.
"""

from __future__ import annotations

import torch

from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method


class DDPM(Method):
    def loss(self, net, x0, gen):
        n, dev = x0.shape[0], x0.device
        t = self.sample_times(n, gen)  # drawn on the CPU generator, then moved
        shape = (n,) + (1,) * (x0.dim() - 1)
        a = torch.from_numpy(self.sde.alpha(t.numpy())).float().reshape(shape).to(dev)
        s = torch.from_numpy(self.sde.sigma(t.numpy())).float().reshape(shape).to(dev)
        z = torch.randn(x0.shape, generator=gen).to(dev)
        eps_hat = net(a * x0 + s * z, self.time_input(t).to(dev))
        loss = (eps_hat - z).square().flatten(1).sum(1).mean()
        return loss, {"eps_mse": float(loss.detach())}

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            tt = torch.full((x.shape[0],), t, dtype=torch.float64, device=x.device)
            eps = net(x.float(), self.time_input(tt)).to(x.dtype)
            return -eps / float(self.sde.sigma(t))

        return score


METHOD = DDPM  # this module is method kind "ddpm" (mfgstudy.methods.registry)
