"""The adversarial score perturbation (paper eq. 32): the delta in the eps-ball that most
increases the squared distance between the perturbed and the unperturbed output of each sample
(same x_T and noise), found by ascending through the sampler: ``pgd`` or ``greedy``, described
with the other kinds in ``mfgstudy.core.perturb``.

A layer above the samplers: this module integrates through ``mfgstudy.core.samplers``, which
calls back only through the interface ``Perturbation.for_batch`` of ``mfgstudy.core.perturb`` (a
layer below both), so no import runs both ways. :func:`build_perturbation` builds every kind, the
adversarial one as :class:`Adversarial`.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from mfgstudy.core.perturb import Perturbation, flat_norm, project, tabled
from mfgstudy.core.samplers import integrate
from mfgstudy.core.sde import ScoreFn

log = logging.getLogger(__name__)


class Adversarial(Perturbation):
    """The ``adversarial`` kind: a delta per (grid time, sample) for each batch, by ``pgd`` or
    ``greedy`` ascent (the spec's ``ascent``)."""

    def for_batch(self, sampler, sde, score: ScoreFn, grid: np.ndarray, x_T, z) -> ScoreFn:
        if not self.active:
            return score
        ascent = self.spec.get("ascent", "pgd")
        if ascent == "pgd":
            table = self._pgd(sampler, sde, score, grid, x_T, z)
        elif ascent == "greedy":
            table = self._greedy(sampler, sde, score, grid, x_T, z)
        else:
            raise ValueError(f"adversarial ascent must be pgd or greedy, got {ascent!r}")
        return tabled(score, grid, table)

    def _constant_table(self, grid, x_T) -> torch.Tensor:
        start = (self.eps * self._like("v", x_T)).expand_as(x_T)
        return start.unsqueeze(0).repeat(len(grid), *([1] * x_T.dim())).clone()

    def _pgd(self, sampler, sde, score, grid, x_T, z) -> torch.Tensor:
        iters = int(self.spec.get("iters", 10))
        step = float(self.spec.get("step_size", 0.5)) * self.eps
        with torch.no_grad():
            clean = integrate(sampler, sde, score, grid, x_T, z)
        table = self._constant_table(grid, x_T)
        best = table.clone()
        best_obj = torch.full((len(x_T),), -math.inf, dtype=x_T.dtype, device=x_T.device)
        for it in range(iters + 1):
            table.requires_grad_(True)
            with torch.enable_grad():
                out = integrate(sampler, sde, tabled(score, grid, table), grid, x_T, z)
                obj = (out - clean).flatten(1).square().sum(1)
                obj = torch.where(torch.isfinite(obj), obj, torch.zeros_like(obj))
                grad = None if it == iters else torch.autograd.grad(obj.sum(), table)[0]
            with torch.no_grad():
                better = obj.detach() > best_obj
                best[:, better] = table.detach()[:, better]
                best_obj = torch.where(better, obj.detach(), best_obj)
                if grad is None:
                    break
                g = grad.flatten(2)  # (time, sample, d)
                g = g / g.norm(dim=2, keepdim=True).clamp_min(1e-30)
                table = table.detach() + step * g.reshape(table.shape)
                table = project(table.flatten(0, 1), self.eps).reshape(table.shape)
        log.info("pgd: mean squared displacement %.4g after %d iterations", best_obj.mean(), iters)
        return best

    def _greedy(self, sampler, sde, score, grid, x_T, z) -> torch.Tensor:
        table = self._constant_table(grid, x_T)
        x_clean, x_pert = x_T, x_T
        for k in range(len(grid) - 1):
            t, tn = float(grid[k]), float(grid[k + 1])
            zk = None if z is None else z[k]
            with torch.no_grad():
                clean_next = sampler.step(sde, score, x_clean, t, tn, zk)
            d = table[k : k + 2].clone().requires_grad_(True)  # this step's times t and t_next
            sub = np.array([t, tn])
            with torch.enable_grad():
                out = sampler.step(sde, tabled(score, sub, d), x_pert, t, tn, zk)
                obj = (out - clean_next).flatten(1).square().sum()
                grad = torch.autograd.grad(obj, d)[0][0]
            with torch.no_grad():
                table[k] = self.eps * grad / flat_norm(grad).clamp_min(1e-30)
                bad = flat_norm(grad).flatten() == 0  # no gradient: keep the constant direction
                table[k][bad] = (self.eps * self._like("v", x_T)).expand_as(x_T)[bad]
                x_pert = sampler.step(sde, tabled(score, grid, table), x_pert, t, tn, zk)
                x_clean = clean_next
        return table


def build_perturbation(spec: dict | None, eps: float, event_shape) -> Perturbation:
    """The perturbation ``spec`` (None: none) at size eps, for samples of ``event_shape``."""
    spec = spec or {"kind": "none"}
    cls = Adversarial if spec["kind"] == "adversarial" else Perturbation
    return cls(spec, eps, event_shape)
