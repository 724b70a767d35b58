"""HJB-regularised score-based generative model (MFG laboratory paper, sections 6.1 and 7).

The paper writes the SGM noising process as dy = -f(y) ds + sigma dW with f = x/2, sigma = 1 on
[0, T = 3]: our VP SDE with a constant beta = 1 (f = beta x / 2, sigma^2 = beta in general). Its
density eta(y, s) solves a Fokker-Planck equation; with phi = log eta and the score s = grad phi,

    d_s phi = div f + f . grad phi + sigma^2/2 (lap phi + |grad phi|^2),

whose gradient is the score's HJB equation (eqs. 83 and 92). Its residual, component i,

    r_i = d_s s_i - (beta/2) s_i - sum_j (beta x_j / 2) d_i s_j - beta sum_j s_j d_i s_j
          - (beta/2) lap s_i,

vanishes for the true score (tested on a Gaussian law, where the score is closed form). The loss
is eq. (93) with the regulariser (92):

    alpha0 E_{s, y ~ eta}[ |s_theta|^2 / 2 + div s_theta ]           (implicit score matching)
  + alpha1 E_{s, y ~ eta}[ sum_i |r_i|^p ]                           (HJB residual, p in {1, 2})
  + alpha2 E_{y ~ pi}[ |s_theta(y, 0)|^2 + 2 div s_theta(y, 0) ]     (terminal score matching)

with s ~ U[t_min, T] and y the exact OU marginal of a data point. ``alpha0 = 0`` is the paper's
section 7.1 (score matching by the PINN loss alone). Divergences and Laplacians are exact with
``probes: 0`` (the unit vectors, for 2-D) and Hutchinson estimates with ``probes: k`` (images).
On flat points with a network that carries its own derivatives (``FC.jet``) the exact ones come
from one forward pass instead of nested ``jvp`` calls: the same numbers, several times faster.

Options beyond the paper, for images: ``output: noise`` parametrises s = -net / sigma_t (as
DDPM; the terminal term is then taken at t_min, where sigma > 0), and ``weighting: sigma2``
weights the time integrals by sigma_t^2 (the paper's integrals are unweighted: ``none``).
"""

from __future__ import annotations

import torch

from mfgstudy.core.diffops import (
    divergence_and_laplacian,
    jacobian_transpose_product,
    probe_directions,
    time_derivative,
)
from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method


class HJBSGM(Method):
    functional_loss = True  # divergences and Laplacians by torch.func.jvp

    def __init__(self, spec: dict, sde):
        super().__init__(spec, sde)
        self.alphas = tuple(float(spec.get(k, d)) for k, d in
                            (("alpha0", 1.0), ("alpha1", 0.0), ("alpha2", 0.0)))  # fmt: skip
        self.p = int(spec.get("p", 2))
        self.output = spec.get("output", "score")
        self.weighting = spec.get("weighting", "none")
        self.probes = int(spec.get("probes", 0))
        if self.p not in (1, 2) or self.output not in ("score", "noise"):
            raise ValueError(f"hjb_sgm: p must be 1 or 2 and output score|noise, got {spec}")

    # --- the schedule in torch (differentiable in t; VPSDE's beta and B are plain arithmetic) --
    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.beta(t)

    def sigma2(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(-self.sde.integrated_beta(t))

    def field(self, net, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The score s_theta(x, t) for per-sample times t (n,), differentiable in x and t."""
        out = net(x, t / self.sde.T)
        if self.output == "noise":
            out = -out / self.sigma2(t).sqrt().reshape((-1,) + (1,) * (x.dim() - 1))
        return out

    def _bcast(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.reshape((-1,) + (1,) * (x.dim() - 1))

    def has_jet(self, net, x: torch.Tensor) -> bool:
        """Whether the exact derivatives come from the network's own jet (``FC.jet``: flat
        points, unit-vector probes) instead of nested ``jvp`` calls: the same numbers, faster."""
        return self.probes == 0 and x.dim() == 2 and hasattr(net, "jet")

    def field_jet(self, net, x: torch.Tensor, t: torch.Tensor, order: int = 2) -> tuple:
        """(s, ds, lap, ds/dt) of the score field at (x, t) from the network's jet (``FC.jet``):
        ds[k, :, i] = d s_i / d x_k; lap and ds/dt are None with ``order`` 1."""
        out, d_out, lap, out_t = net.jet(x, t / self.sde.T, order)
        if self.output == "score":
            return out, d_out, lap, None if out_t is None else out_t / self.sde.T
        # s = c(t) net with c = -1 / sigma_t; d sigma_t^2 / dt = beta_t (1 - sigma_t^2)
        sigma2 = self.sigma2(t)[:, None]
        c = -sigma2.rsqrt()
        if order == 1:
            return c * out, c * d_out, None, None
        c_t = 0.5 * self.beta(t)[:, None] * (1.0 - sigma2) / (sigma2 * sigma2.sqrt())
        return c * out, c * d_out, c * lap, c_t * out + c * out_t / self.sde.T

    @staticmethod
    def _trace(ds: torch.Tensor) -> torch.Tensor:
        """div s from the derivatives ds[k, :, i] = d s_i / d x_k."""
        return sum(ds[k, :, k] for k in range(ds.shape[0]))

    def divergence_and_score(self, net, x: torch.Tensor, t: torch.Tensor, gen) -> tuple:
        """(div s, s) at (x, t): exact (jet or unit-vector probes) or Hutchinson's estimate."""
        if self.has_jet(net, x):
            s, ds, _, _ = self.field_jet(net, x, t, order=1)
            return self._trace(ds), s
        probes = probe_directions(x, self.probes, gen)
        div, _ = divergence_and_laplacian(
            lambda y: self.field(net, y, t), x, probes, laplacian=False
        )
        return div, self.field(net, x, t)

    # --- the loss -------------------------------------------------------------------------------
    def hjb_residual(self, net, x: torch.Tensor, t: torch.Tensor, gen) -> tuple:
        """(r, s, div s) at (x, t): the residual of the score's HJB equation (module docstring)."""
        if self.has_jet(net, x):
            s, ds, lap, ds_dt = self.field_jet(net, x, t)
            beta = self.beta(t)[:, None]
            jt = (ds * (0.5 * beta * x + beta * s)).sum(-1).T  # J^T w: sum_i w_i d_k s_i
            r = ds_dt - 0.5 * beta * s - jt - 0.5 * beta * lap
            return r, s, self._trace(ds)
        probes = probe_directions(x, self.probes, gen)
        div, lap = divergence_and_laplacian(
            lambda y: self.field(net, y, t), x, probes, laplacian=True
        )
        ds_dt = time_derivative(lambda tt: self.field(net, x, tt), t)
        xr = x.detach().requires_grad_(True)
        s = self.field(net, xr, t)
        beta = self._bcast(self.beta(t), x)
        jt = jacobian_transpose_product(s, xr, 0.5 * beta * xr + beta * s)
        r = ds_dt - 0.5 * beta * s - jt - 0.5 * beta * lap
        return r, s, div

    def loss(self, net, x0, gen):
        a0, a1, a2 = self.alphas
        n, dev = x0.shape[0], x0.device
        t64 = self.sample_times(n, gen)  # draws on the CPU generator, then moved
        a = torch.from_numpy(self.sde.alpha(t64.numpy())).to(dev, x0.dtype)
        t = t64.to(dev, x0.dtype)
        z = torch.randn(x0.shape, generator=gen).to(dev, x0.dtype)
        x = self._bcast(a, x0) * x0 + self._bcast(self.sigma2(t).sqrt(), x0) * z
        w = self.sigma2(t) if self.weighting == "sigma2" else torch.ones_like(t)
        terms, total = {}, torch.zeros((), device=dev)
        if a1 > 0:
            r, s, div = self.hjb_residual(net, x, t, gen)
            hjb = (w * r.abs().pow(self.p).flatten(1).sum(1)).mean()
            total = total + a1 * hjb
            terms["hjb"] = hjb.detach()
        elif a0 > 0:
            div, s = self.divergence_and_score(net, x, t, gen)
        if a0 > 0:
            ism = (w * (0.5 * s.flatten(1).square().sum(1) + div)).mean()
            total = total + a0 * ism
            terms["ism"] = ism.detach()
        if a2 > 0:
            t_end = 0.0 if self.output == "score" else self.sde.t_min
            t0 = torch.full((n,), t_end, dtype=x0.dtype, device=dev)
            div0, s0 = self.divergence_and_score(net, x0, t0, gen)
            terminal = (s0.flatten(1).square().sum(1) + 2.0 * div0).mean()
            total = total + a2 * terminal
            terms["terminal"] = terminal.detach()
        return total, terms

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            tt = torch.full((x.shape[0],), t, dtype=torch.float32, device=x.device)
            return self.field(net, x.float(), tt).to(x.dtype)

        return score


METHOD = HJBSGM  # this module is method kind "hjb_sgm" (mfgstudy.methods.registry)
