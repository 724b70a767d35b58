"""Flow Matching (Lipman et al. 2023) with conditional optimal-transport paths.

Path x_tau = (1 - tau) x0 + tau z (tau = 0 data, tau = 1 noise), target velocity z - x0, loss
E || v(x_tau, tau) - (z - x0) ||^2 with tau ~ U[0, 1]. ``coupling: minibatch_ot`` pairs data and
noise inside each batch by exact optimal transport (POT), as in OT-CFM (Tong et al. 2024).

Score for the shared VP samplers: the VP state x_t = alpha x0 + sigma z is the FM state scaled by
k = alpha + sigma at tau = sigma / k, and E[x0 | x_tau] = x_tau - tau v, so
s(x, t) = (alpha (y - tau v(y, tau)) - x) / sigma^2 with y = x / k. A velocity error dv maps to
a score error -alpha tau dv / sigma^2 (used by the perturbation sweeps).
"""

from __future__ import annotations

import numpy as np
import torch

from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method


def ot_pairing(x0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Permutation of z that solves the exact OT problem between the two batches (solved on
    the CPU by POT; the permutation is a CPU tensor)."""
    import ot

    a = x0.detach().flatten(1).double().cpu().numpy()
    b = z.detach().flatten(1).double().cpu().numpy()
    plan = ot.emd(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), ot.dist(a, b))
    return torch.from_numpy(plan.argmax(1))


class FlowMatching(Method):
    def loss(self, net, x0, gen):
        n, dev = x0.shape[0], x0.device
        z = torch.randn(x0.shape, generator=gen)  # on the CPU generator, moved after pairing
        if self.spec.get("coupling", "independent") == "minibatch_ot":
            z = z[ot_pairing(x0, z)]
        z = z.to(dev)
        tau = torch.rand(n, generator=gen).to(dev)
        tt = tau.reshape((-1,) + (1,) * (x0.dim() - 1))
        v = net((1 - tt) * x0 + tt * z, tau)
        loss = (v - (z - x0)).square().flatten(1).sum(1).mean()
        return loss, {"velocity_mse": float(loss.detach())}

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            a, s = float(self.sde.alpha(t)), float(self.sde.sigma(t))
            k, tau = a + s, s / (a + s)
            y = x / k
            v = net(y.float(), torch.full((x.shape[0],), tau, device=x.device)).to(x.dtype)
            return (a * (y - tau * v) - x) / (s * s)

        return score


METHOD = FlowMatching  # this module is method kind "flow_matching" (mfgstudy.methods.registry)
