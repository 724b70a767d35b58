"""Reverse-time samplers for the VP SDE, driven by a score function s(x, t).

Each sampler is one ``step(sde, score, x, t, t_next, z)`` from t down to t_next < t, where z is
the standard normal of that step (None for the ODE samplers). Steps are written for any event
shape and dtype. With h = t - t_next, beta = beta(t):

* ``euler_maruyama``: x + h (beta x / 2 + beta s) + sqrt(beta h) z  (reverse SDE, eq. 2 of the
  paper; the PDE paper's eq. 4.19 prints sqrt(h) for the noise, which drops the sqrt(2) of its
  OU diffusion: we use the correct sqrt(g^2 h)).
* ``exponential_integrator``: hold the Tweedie mean x0_bar = (x + sigma_t^2 s) / alpha_t fixed on
  [t_next, t] and integrate the linear SDE exactly: the ancestral / DDPM-posterior step of the
  PDE paper, eqs. 4.21-4.24 (there with alpha = e^{-t}); here for any beta schedule.
* ``pf_ode_euler`` / ``pf_ode_heun``: the probability-flow ODE dx/dt = f - g^2 s / 2, with Euler or
  Heun's second-order predictor-corrector.
* ``ddim`` (any eta; eta = 1 is the ancestral step), ``edm_heun`` (Heun in EDM's variance-exploding
  coordinates) and ``fm_euler`` / ``fm_heun`` (the same flow on Flow Matching's linear path).

Each kind is registered beside its class (``@register_sampler("ddim")``, ``mfgstudy.registry``):
adding a sampler is one class here, or in the module of the method that brings it.

Noise is a property of the sample, not of the batch: sample i draws x_T and its Brownian path from
``numpy.random.default_rng([seed, i])``. The path lives on the fine (reference) grid of the same
grid family; a coarse N-step run uses the sums of the fine increments over its steps, so the
N-step and the reference run of one sample are driven by the same Brownian path.

Devices (``mfgstudy.device``): the noise is drawn on the CPU as above, cast to the sampler's dtype
there and then moved to ``generate``'s ``device``, where the whole run (score, perturbation,
steps) computes; samples come back on the CPU. The same seed thus gives the same x_T and path on
every device, and on the CPU the results are bit-identical to a run without a device argument.
The caller picks the device (``mfgstudy.device.for_data``: points on the CPU, images on the job's
device) and puts the score's network there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from mfgstudy.core.sde import VPSDE, ScoreFn, check_nested, grid_from_spec, log_ratio_alpha
from mfgstudy.registry import SAMPLERS, register_sampler

if TYPE_CHECKING:  # a type only: samplers call for_batch; core.adversarial drives samplers
    from mfgstudy.core.perturb import Perturbation

log = logging.getLogger(__name__)


class Sampler:
    stochastic: bool = True

    def step(self, sde: VPSDE, score: ScoreFn, x, t: float, t_next: float, z):
        raise NotImplementedError


def tweedie_x0(sde: VPSDE, score: ScoreFn, x, t: float):
    """E[x_0 | x_t = x] from the score: (x + sigma_t^2 s) / alpha_t."""
    return (x + float(sde.sigma2(t)) * score(x, t)) / float(sde.alpha(t))


@register_sampler("euler_maruyama")
class EulerMaruyama(Sampler):
    def step(self, sde, score, x, t, t_next, z):
        h, beta = t - t_next, float(sde.beta(t))
        return x + h * (0.5 * beta * x + beta * score(x, t)) + math.sqrt(beta * h) * z


@register_sampler("exponential_integrator")
class ExponentialIntegrator(Sampler):
    def step(self, sde, score, x, t, t_next, z):
        s2, s2n = float(sde.sigma2(t)), float(sde.sigma2(t_next))
        a_n = float(sde.alpha(t_next))
        r = math.exp(log_ratio_alpha(sde, t, t_next))  # alpha_t / alpha_{t_next} < 1
        one_minus_r2 = -math.expm1(2.0 * log_ratio_alpha(sde, t, t_next))
        x0_bar = tweedie_x0(sde, score, x, t)
        mean = (r * s2n / s2) * x + (a_n * one_minus_r2 / s2) * x0_bar
        return mean + math.sqrt(s2n * one_minus_r2 / s2) * z


def _pf_velocity(sde: VPSDE, score: ScoreFn, x, t: float):
    """dx/dt of the probability-flow ODE: f(x, t) - g(t)^2 s(x, t) / 2."""
    return -0.5 * float(sde.beta(t)) * (x + score(x, t))


@register_sampler("pf_ode_euler")
class PFODEEuler(Sampler):
    stochastic = False

    def step(self, sde, score, x, t, t_next, z):
        return x + (t_next - t) * _pf_velocity(sde, score, x, t)


@register_sampler("pf_ode_heun")
class PFODEHeun(Sampler):
    stochastic = False

    def step(self, sde, score, x, t, t_next, z):
        h = t_next - t
        v = _pf_velocity(sde, score, x, t)
        x_pred = x + h * v
        return x + 0.5 * h * (v + _pf_velocity(sde, score, x_pred, t_next))


@register_sampler("ddim")
class DDIM(Sampler):
    """DDIM (Song et al. 2021) on any score: x' = alpha' x0 + sqrt(sigma'^2 - c^2) eps + c z with
    c^2 = eta^2 sigma'^2 (1 - (alpha/alpha')^2) / sigma^2. eta = 1 is the ancestral (DDPM
    posterior) step, eta = 0 the deterministic DDIM."""

    def __init__(self, eta: float = 0.0):
        if eta < 0:
            raise ValueError(f"DDIM eta must be >= 0, got {eta}")
        self.eta = float(eta)
        self.stochastic = self.eta > 0

    def step(self, sde, score, x, t, t_next, z):
        s2, s2n = float(sde.sigma2(t)), float(sde.sigma2(t_next))
        one_minus_r2 = -math.expm1(2.0 * log_ratio_alpha(sde, t, t_next))
        c2 = self.eta**2 * s2n * one_minus_r2 / s2
        sc = score(x, t)
        x0 = (x + s2 * sc) / float(sde.alpha(t))
        eps = -math.sqrt(s2) * sc
        out = float(sde.alpha(t_next)) * x0 + math.sqrt(max(s2n - c2, 0.0)) * eps
        return out + math.sqrt(c2) * z if self.stochastic else out


class ScaledODE(Sampler):
    """The probability-flow ODE in other coordinates: y = x / scale(t) against u(t), in which the
    flow reads dy/du = (y - D) / u with D = E[x_0 | x] (Tweedie). ``space="ve"``: y = x / alpha,
    u = sigma / alpha, the variance-exploding coordinates of EDM (Karras et al. 2022), whose Heun
    step is EDM's sampler. ``space="fm"``: y = x / (alpha + sigma), u = sigma / (alpha + sigma),
    the linear interpolation path of Flow Matching, u being its time. Same continuous limit as
    ``pf_ode_*``; a different discretisation."""

    stochastic = False

    def __init__(self, space: str, order: int):
        if space not in ("ve", "fm") or order not in (1, 2):
            raise ValueError(
                f"ScaledODE needs space in (ve, fm) and order in (1, 2): {space}, {order}"
            )
        self.space, self.order = space, order

    def coords(self, sde: VPSDE, t: float) -> tuple[float, float]:
        a, s = float(sde.alpha(t)), float(sde.sigma(t))
        return (a, s / a) if self.space == "ve" else (a + s, s / (a + s))

    def step(self, sde, score, x, t, t_next, z):
        (k, u), (kn, un) = self.coords(sde, t), self.coords(sde, t_next)
        y = x / k
        v = (y - tweedie_x0(sde, score, x, t)) / u
        y_next = y + (un - u) * v
        if self.order == 2:
            v_next = (y_next - tweedie_x0(sde, score, kn * y_next, t_next)) / un
            y_next = y + 0.5 * (un - u) * (v + v_next)
        return kn * y_next


@register_sampler("edm_heun")
def edm_heun() -> Sampler:
    return ScaledODE("ve", 2)


@register_sampler("fm_euler")
def fm_euler() -> Sampler:
    return ScaledODE("fm", 1)


@register_sampler("fm_heun")
def fm_heun() -> Sampler:
    return ScaledODE("fm", 2)


def build_sampler(spec: dict) -> Sampler:
    """The sampler of ``spec``: its kind's class or factory (``mfgstudy.registry.SAMPLERS``: the
    kinds registered here, and those a method's module brings) called with the spec's options."""
    return SAMPLERS.get(spec["kind"])(**{k: v for k, v in spec.items() if k != "kind"})


def integrate(sampler: Sampler, sde: VPSDE, score: ScoreFn, grid: np.ndarray, x_T, z=None):
    """Run the sampler along ``grid`` (descending) from x_T; z[k] is step k's standard normal."""
    x = x_T
    for k in range(len(grid) - 1):
        x = sampler.step(
            sde, score, x, float(grid[k]), float(grid[k + 1]), None if z is None else z[k]
        )
    return x


def sample_noise(
    seed: int,
    indices: range,
    event_shape: tuple[int, ...],
    fine_grid: np.ndarray,
    factor: int,
    stochastic: bool,
    dtype: torch.dtype,
    device: torch.device | str = "cpu",
):
    """x_T and the coarse step normals of the samples ``indices``, on ``device``.

    ``fine_grid`` carries the Brownian path; the coarse grid is every ``factor``-th point of it.
    Returns x_T (n, *event_shape) and z (N_coarse, n, *event_shape), or None if not stochastic.
    Drawn and cast to ``dtype`` on the CPU, then moved: the same numbers on every device.
    """
    d = int(np.prod(event_shape))
    n_fine = len(fine_grid) - 1
    dt = -np.diff(fine_grid)  # positive fine step lengths
    x_T = np.empty((len(indices), d))
    z = np.empty((n_fine // factor, len(indices), d)) if stochastic else None
    for j, i in enumerate(indices):
        rng = np.random.default_rng([int(seed), int(i)])
        x_T[j] = rng.standard_normal(d)
        if stochastic:
            dw = np.sqrt(dt)[:, None] * rng.standard_normal((n_fine, d))
            coarse_dw = dw.reshape(-1, factor, d).sum(1)
            coarse_dt = dt.reshape(-1, factor).sum(1)
            z[:, j] = coarse_dw / np.sqrt(coarse_dt)[:, None]
    to = lambda a: torch.from_numpy(a).to(dtype).to(device)  # noqa: E731
    x_T = to(x_T).reshape(len(indices), *event_shape)
    if z is not None:
        z = to(z).reshape(z.shape[0], len(indices), *event_shape)
    return x_T, z


def generate(
    sampler_spec: dict,
    grid_spec: dict,
    sde: VPSDE,
    score: ScoreFn,
    n_steps: int,
    n_samples: int,
    event_shape: tuple[int, ...],
    seed: int,
    brownian_steps: int | None = None,
    batch_size: int = 1000,
    dtype: torch.dtype = torch.float64,
    progress: Callable | None = None,
    perturbation: Perturbation | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """n_samples from the N-step sampler; the Brownian path lives on the brownian_steps grid.
    With a ``perturbation``, the sampler sees the perturbed score (``mfgstudy.core.perturb``).
    Computes on ``device`` (where ``score`` must compute too); returns the samples on the CPU."""
    sampler = build_sampler(sampler_spec)
    fine = brownian_steps or n_steps
    check_nested(n_steps, fine)
    grid = grid_from_spec(sde, n_steps, grid_spec)
    fine_grid = grid_from_spec(sde, fine, grid_spec)
    out = []
    batches = range(0, n_samples, batch_size)
    for lo in progress(batches) if progress else batches:
        idx = range(lo, min(lo + batch_size, n_samples))
        x_T, z = sample_noise(
            seed, idx, event_shape, fine_grid, fine // n_steps, sampler.stochastic, dtype, device
        )
        with np.errstate(all="ignore"):
            used = (
                perturbation.for_batch(sampler, sde, score, grid, x_T, z) if perturbation else score
            )
            with torch.no_grad():
                out.append(integrate(sampler, sde, used, grid, x_T, z).cpu())
    x = torch.cat(out)
    bad = int((~torch.isfinite(x.flatten(1)).all(1)).sum())
    if bad:  # a diverged model is a result (the metrics record it), not a crash
        log.warning(
            "%d of %d samples are not finite (%s, N=%d)",
            bad,
            n_samples,
            sampler_spec["kind"],
            n_steps,
        )
    return x


def progress_bar(desc: str):
    return lambda it: tqdm(it, desc=desc, mininterval=5.0)
