"""MFG-Diffusion, the paper's Algorithm 1, with every reading it needs as a named switch.

Networks: a score network s_theta(x, t) (parametrised as -net(x, t) / sigma_t, like DDPM's
epsilon network; a parametrisation, not a change to the algorithm) and a value network
V_phi(x, t) (scalar). Time points 0 < t_1 < ... < t_{N-1} < T; measure estimates mu_i are particle
sets at each t_i. Each outer iteration k runs, for every i, the HJB step (lines 5-12), the
Fokker-Planck step (lines 13-19), then the measure update (lines 21-28).

The HJB the game implies
------------------------
The paper's game: a state X_t driven by the score s (eq. 11), dX = [f + g^2 s] dt + g dW, with
running cost L = lambda(t) |s - grad log mu_t|^2 (eq. 13) and terminal cost Phi (eq. 14). Its
value V(x, t) = min_s E[int_t^T L + Phi | X_t = x] solves the HJB (eq. 7)

    -dV/dt = min_s { lambda |s - grad log mu|^2 + (f + g^2 s) . grad V } + g^2/2 lap V.

The bracket is minimised at s* = grad log mu - g^2/(2 lambda) grad V (eq. 23, which the paper
gets right), where it equals (f + g^2 grad log mu) . grad V - g^4/(4 lambda) |grad V|^2. So

    dV/dt + (f + g^2 grad log mu) . grad V + g^2/2 lap V - g^4/(4 lambda) |grad V|^2 = 0,
    V(x, T) = Phi(x),                                                            (derived)

integrated backward from T. Term by term against the printed eq. (24),
-dV/dt + f . grad V + g^2/2 lap V - g^4/(4 lambda) |grad V|^2 + lambda |grad log mu|^2 = 0:
(i) dV/dt has the opposite sign relative to the other terms (24 runs the equation in the wrong time
direction: with V(T) given, its quadratic solution blows up backward from T on a Gaussian law, see
``mfgstudy.analysis.mfg_equilibrium``); (ii) the transport velocity is f + g^2 grad log mu, the
drift of eq. (11) at s = grad log mu, not f alone (24 drops the g^2 s . grad V part of the
Hamiltonian); (iii) there is no source: L vanishes at s = grad log mu, and lambda |grad log mu|^2 is
L at s = 0, which the minimisation never visits. Under the derived HJB the value is driven by the
terminal cost alone: with Phi constant, V is constant, s* = grad log mu, and Algorithm 1 is
denoising score matching (DDPM exactly, under the ``denoising`` weighting below: Proposition 3's
statement). Our Phi = |x|^2/2 (below) gives a quadratic V that pulls s* toward the origin.

Readings
--------
Where the printed algorithm is ill-defined or contradicts its own equations, ``readings`` picks
an interpretation (``READINGS``; the first entry of each is the default, chosen so that the
``value_target: off`` control trains exactly like DDPM, see the README):

``tweedie`` (line 9, the estimate of grad log mu at a noised data point x_t = alpha x0 + sigma z)
    ``denoising``: -z / sigma, the denoising-score-matching target, whose conditional mean is the
    true score (the paper's eq. 26 regresses onto the same target); ``printed``:
    -x0 / sqrt(1 - alpha_bar) as printed (not a score estimate: it ignores x_t).
``value_target`` (lines 10-11: what the HJB step fits)
    ``hjb_residual``: the squared residual of the printed eq. (24) plus a terminal term
    (V(x, T) - |x|^2/2)^2 at x ~ N(0, I): eq. (18) sets V(T, x) = D(delta_x || p), infinite for
    KL; we keep its finite part for p = N(0, I), -log p(x) = |x|^2/2 + const;
    ``derived``: the same with the derived HJB above (same terminal term);
    ``algorithm1``: line 10 with the gradient in x (the printed grad_phi V has the dimension of
    the parameters and cannot be added to a score): || grad_x V + g^2/(2 lambda) grad log mu ||^2;
    ``off``: the control, V = 0: no HJB step, s_eq = grad log mu, the FP step regresses on the
    denoising target alone. What separates MFG-Diffusion from its control is the correction.
``weighting`` (lambda(t) of eq. 13, "a time-weighting schedule"; the ``lambda`` spec is its scale)
    ``denoising``: lambda(t) = lambda sigma_t^2, the standard denoising weighting: the FP loss
    lambda(t) |s - s_eq|^2 is then DDPM's epsilon loss at t; the correction g^2/(2 lambda(t)) =
    beta(t) / (2 lambda sigma_t^2) grows like 1/t as t -> 0, where V's gradient must vanish for
    s_eq to stay a score; ``constant``: lambda(t) = lambda, the FP loss is the score-space loss
    (the epsilon loss weighted by 1/sigma_t^2, dominated by small t).
    The FP loss is weighted by lambda(t) / lambda (the printed line 17 under ``constant``).
``time_sampling``
    ``continuous``: every batch draws its times t ~ U[t_min, T] per sample and re-noises data
    there (as DSM does; the measure update as printed produces exactly these marginals);
    ``fixed``: the N - 1 grid points t_i as printed, from the measure estimates.
``measure_update`` (lines 21-28)
    ``printed``: re-noise the data at each t_i. The measure never sees the model, but it is the
    equilibrium measure the paper characterises: the forward marginal p_t (eq. 25 and
    Proposition 3), whose score line 9 estimates from the data;
    ``model_rollout``: run the reverse SDE with the current s_theta from N(0, I) and keep the
    particles at each t_i; grad log mu is then the score of the particle cloud smoothed by a
    Gaussian kernel (Silverman bandwidth), and the tweedie switch does not apply. After the first
    update the data no longer enter: the score is fitted to its own samples, so any law is a
    fixed point (the ablation measures what this does). Needs ``time_sampling: fixed``.
``update`` (lines 11 and 18)
    ``descent``: descend on both squared norms; ``printed``: theta <- theta + alpha grad L_FP
    (ascent on a loss to be minimised); line 11's phi <- phi + alpha grad L_HJB with
    L_HJB = -||.||^2 already descends on ||.||^2.
``lr_schedule``: ``constant`` or ``inverse_k`` (Proposition 6's step sizes alpha = O(1/k)).

The equilibrium violation is logged at every outer iteration at the grid times, so that
Proposition 6's O(1/K) can be measured: the RMS residual of the reading's HJB and RMS
|| s_theta - s_eq || with the algorithm's own one-sample estimate of grad log mu
(``hjb_residual_rms``, ``score_gap_rms``; that estimate's noise is most of their value), and,
where the data law is known in closed form (``law``: Gaussian mixtures, the checkerboard), the
same two residuals with the exact score of the diffused law in place of the estimate
(``hjb_residual_exact_rms``, ``fp_residual_exact_rms``: the left-hand sides of the HJB-FP
equilibrium condition) and the distance to the true score, RMS || s_theta - s* ||
(``score_error_exact_rms``). Each closed-form metric comes with its Monte-Carlo standard error
over the batch (``*_se``), the floor below which a decay cannot be read.

Class conditioning (a score network with ``n_classes`` > 0, labels given to the training loop):
re-noised particles carry the label of their data point, and the score network sees it in the FP
step (lines 13-19) after classifier-free label dropout (``label_dropout`` of the training spec);
the violation's score gap uses the particles' labels without dropout. The value network V stays
unconditional (the HJB step and s_eq are those of the label-free game). Under ``model_rollout`` the
rolled-out particles have no label: the rollout runs the null-label score, and the score network
then trains on the null label only.

Device and resume (``mfgstudy.training.algorithm1``): the networks and the measure estimates live
on the run's device, every draw comes from the CPU generator ``gen`` and is moved there. The loop
checkpoints after every ``every``-th outer iteration (default 1): networks, EMA, both optimisers,
``gen`` and torch's global generator, the measure estimates and the log rows, so that a resumed run
ends bit-identical on the CPU; a stop before the walltime happens between outer iterations.
Algorithm 1 runs in one process: torch.distributed (WORLD_SIZE > 1) is refused."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from mfgstudy.core.diffops import divergence
from mfgstudy.core.exact import kernel_mean
from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method
from mfgstudy.nets import Conditioned, build_net

log = logging.getLogger(__name__)

READINGS = {
    "tweedie": ("denoising", "printed"),
    "value_target": ("hjb_residual", "derived", "algorithm1", "off"),
    "weighting": ("denoising", "constant"),
    "time_sampling": ("continuous", "fixed"),
    "measure_update": ("printed", "model_rollout"),
    "update": ("descent", "printed"),
    "lr_schedule": ("constant", "inverse_k"),
}  # first entry: the default


class ValueNet(nn.Module):
    """V(x, t): the method's network family with a scalar head (inputs flattened)."""

    def __init__(self, spec: dict, event_shape: tuple[int, ...]):
        super().__init__()
        d = int(np.prod(event_shape))
        self.body = build_net({**spec, "kind": "mlp"}, (d,))
        self.head = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1), t)).squeeze(1)


class MFGDiffusion(Method):
    loop = "algorithm1"  # trained by mfgstudy.training.algorithm1, not on a loss

    def __init__(self, spec: dict, sde):
        super().__init__(spec, sde)
        self.readings = {k: spec.get("readings", {}).get(k, v[0]) for k, v in READINGS.items()}
        for k, v in self.readings.items():
            if v not in READINGS[k]:
                raise ValueError(f"mfg reading {k}={v!r}; choose from {READINGS[k]}")
        if self.readings["measure_update"] == "model_rollout" and (
            self.readings["time_sampling"] != "fixed"
        ):
            raise ValueError(
                "mfg reading measure_update=model_rollout keeps particles at the grid times only: "
                "set readings.time_sampling: fixed"
            )
        self.gamma = float(spec.get("gamma", 0.0))
        self.lam0 = float(spec.get("lambda", 1.0))
        if not self.lam0 > 0:
            raise ValueError(f"mfg lambda must be > 0, got {self.lam0}")

    # --- schedule -----------------------------------------------------------------------------
    def coefficients(self, t: torch.Tensor, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample beta = g^2, sigma, lambda(t) and the FP loss weight lambda(t) / lambda at
        times ``t`` (shape (n,)), in ``like``'s dtype and device."""
        tn = t.detach().cpu().double().numpy()
        sigma2 = self.sde.sigma2(tn)
        weight = sigma2 if self.readings["weighting"] == "denoising" else np.ones_like(tn)
        vals = {"beta": self.sde.beta(tn), "sigma": np.sqrt(sigma2), "weight": weight,
                "lam": self.lam0 * weight}  # fmt: skip
        return {k: torch.as_tensor(np.asarray(v, np.float64)).to(like) for k, v in vals.items()}

    def lam(self, t: float) -> float:
        """lambda(t) of the weighting reading."""
        w = float(self.sde.sigma2(t)) if self.readings["weighting"] == "denoising" else 1.0
        return self.lam0 * w

    def time_points(self, n: int) -> np.ndarray:
        """t_1 < ... < t_{N-1} of the grid 0 = t_0 < ... < t_N = T (t_0 moved to t_min)."""
        return self.sde.t_min + (self.sde.T - self.sde.t_min) * np.arange(1, n) / n

    @staticmethod
    def times_like(t, x: torch.Tensor) -> torch.Tensor:
        """``t`` (a float or per-sample tensor) as a float64 tensor of shape (n,) on x's device."""
        t = torch.as_tensor(t, dtype=torch.float64)
        return t.expand(x.shape[0]).to(x.device) if t.dim() == 0 else t.to(x.device)

    # --- networks -----------------------------------------------------------------------------
    def score_of(self, net: nn.Module, x: torch.Tensor, t) -> torch.Tensor:
        t = self.times_like(t, x)
        sigma = self.coefficients(t, x)["sigma"].reshape(-1, *([1] * (x.dim() - 1)))
        return -net(x, (t / self.sde.T).float()) / sigma

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            return self.score_of(net, x.float(), t).to(x.dtype)

        return score

    def loss(self, net, x0, gen):  # pragma: no cover - Algorithm 1 has its own loop
        raise TypeError("MFG-Diffusion trains with Algorithm 1 (mfgstudy.training.algorithm1)")

    # --- measure estimates --------------------------------------------------------------------
    def renoised(self, x_train, t, m: int, gen, labels=None, device="cpu") -> dict:
        """Lines 22-28 as printed: alpha x0 + sigma z for m data points at time ``t`` (a float,
        or per-sample times of shape (m,)), with their labels ("y") where ``labels`` are given;
        drawn on the CPU and moved to ``device``."""
        idx = torch.randint(len(x_train), (m,), generator=gen)
        x0 = x_train[idx]
        z = torch.randn(x0.shape, generator=gen)
        tt = self.times_like(t, x0)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        a = torch.from_numpy(np.asarray(self.sde.alpha(tt.numpy()))).to(x0).reshape(shape)
        s = torch.from_numpy(np.asarray(self.sde.sigma(tt.numpy()))).to(x0).reshape(shape)
        out = {"x": a * x0 + s * z, "x0": x0, "z": z}
        if labels is not None:
            out["y"] = labels[idx]
        return {k: v.to(device) for k, v in out.items()}

    def rollout(self, net, times: np.ndarray, m: int, shape, gen, device="cpu") -> list[dict]:
        """Particles of the reverse SDE (Euler-Maruyama) under the current score at each t_i,
        on ``device`` (the noise drawn on the CPU generator and moved)."""
        from mfgstudy.core.samplers import EulerMaruyama

        em = EulerMaruyama()
        x = torch.randn((m, *shape), generator=gen).to(device)
        grid = np.concatenate([[self.sde.T], times[::-1]])
        out = {}
        with torch.no_grad():
            for t, tn in zip(grid[:-1], grid[1:], strict=True):
                z = torch.randn(x.shape, generator=gen).to(device)
                x = em.step(
                    self.sde, lambda y, s: self.score_of(net, y, s), x, float(t), float(tn), z
                )
                out[float(tn)] = x.clone()
        return [{"x": out[float(t)]} for t in times]

    def estimate(self, particles: dict, idx: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Line 9: the estimate of grad log mu at the particles ``idx`` (re-noised data), or the
        smoothed particle cloud's score (rolled-out particles)."""
        x = particles["x"][idx]
        if "x0" not in particles:
            return kde_score(x, particles["x"])
        ref = particles["x0"] if self.readings["tweedie"] == "printed" else particles["z"]
        sigma = self.coefficients(t, x)["sigma"].reshape(-1, *([1] * (x.dim() - 1)))
        return -ref[idx] / sigma

    def batch(self, particles: dict, t: float, bs: int, gen):
        """A batch from the measure estimate at t: (x, per-sample times, the estimate of
        grad log mu, the particles' labels or None)."""
        idx = torch.randint(len(particles["x"]), (bs,), generator=gen)
        idx = idx.to(particles["x"].device)
        x = particles["x"][idx]
        tt = self.times_like(t, x)
        y = particles["y"][idx] if "y" in particles else None
        return x, tt, self.estimate(particles, idx, tt), y

    def draw(self, measure: dict, t: float, bs: int, gen, x_train, labels, device):
        """A training batch at grid time t (``time_sampling: fixed``) or at per-sample times
        t ~ U[t_min, T] from freshly re-noised data (``continuous``)."""
        if self.readings["time_sampling"] == "fixed":
            return self.batch(measure, t, bs, gen)
        u = torch.rand(bs, generator=gen, dtype=torch.float64)
        tt = self.sde.t_min + u * (self.sde.T - self.sde.t_min)
        fresh = self.renoised(x_train, tt, bs, gen, labels, device)
        every = torch.arange(bs, device=fresh["x"].device)
        return fresh["x"], tt.to(device), self.estimate(fresh, every, tt), fresh.get("y")

    # --- Algorithm 1 --------------------------------------------------------------------------
    def value_loss(self, V, x, grad_log_mu, t) -> torch.Tensor:
        reading = self.readings["value_target"]
        if reading == "algorithm1":
            c = self.coefficients(self.times_like(t, x), x)
            gv = self.grad_x(V, x, t)
            k = (c["beta"] / (2 * c["lam"])).reshape(-1, *([1] * (x.dim() - 1)))
            return (gv + k * grad_log_mu).flatten(1).square().sum(1).mean()
        res = self.hjb_residual(V, x, grad_log_mu, t, create_graph=True)
        xT = torch.randn(x.shape, dtype=x.dtype).to(x.device)  # torch's global CPU generator
        vT = V(xT, torch.full((x.shape[0],), 1.0, device=x.device))
        terminal = (vT - 0.5 * xT.flatten(1).square().sum(1)).square().mean()
        return res.square().mean() + terminal

    def hjb_residual(self, V, x, grad_log_mu, t, create_graph: bool = False):
        """Residual of the reading's HJB at (x, t): the printed eq. (24), or the derived one
        (``value_target: derived``); exact Laplacian for d <= 4, Hutchinson above. For the
        ``algorithm1`` and ``off`` readings, which fit no HJB, eq. (24)'s residual is reported."""
        t = self.times_like(t, x)
        c = self.coefficients(t, x)
        beta, lam = c["beta"], c["lam"]
        x = x.detach().requires_grad_(True)
        tt = (t / self.sde.T).to(x.dtype).requires_grad_(True)
        v = V(x, tt)
        gx, gt = torch.autograd.grad(v.sum(), (x, tt), create_graph=True)
        dv_dt = gt / self.sde.T
        lap = divergence(gx, x, create_graph=create_graph)  # Laplacian of V
        drift = -0.5 * beta * (x * gx).flatten(1).sum(1)  # f . grad V
        grad_sq = gx.flatten(1).square().sum(1)
        curvature = 0.5 * beta * lap - beta * beta / (4 * lam) * grad_sq
        if self.readings["value_target"] == "derived":
            transport = beta * (grad_log_mu * gx).flatten(1).sum(1)  # g^2 grad log mu . grad V
            return dv_dt + drift + transport + curvature
        score_sq = grad_log_mu.flatten(1).square().sum(1)
        return -dv_dt + drift + curvature + lam * score_sq

    def s_eq(self, V, x, grad_log_mu, t) -> torch.Tensor:
        """The equilibrium score of line 16 (eq. 23): grad log mu - g^2/(2 lambda) grad_x V
        (grad log mu itself for the ``off`` control)."""
        if self.readings["value_target"] == "off":
            return grad_log_mu
        c = self.coefficients(self.times_like(t, x), x)
        k = (c["beta"] / (2 * c["lam"])).reshape(-1, *([1] * (x.dim() - 1)))
        return grad_log_mu - k * self.grad_x(V, x, t, create_graph=False).detach()

    def grad_x(self, V, x: torch.Tensor, t, create_graph: bool = True) -> torch.Tensor:
        tt = (self.times_like(t, x) / self.sde.T).to(x.dtype)
        x = x.detach().requires_grad_(True)
        v = V(x, tt)
        return torch.autograd.grad(v.sum(), x, create_graph=create_graph)[0]

    def violation(self, net, V, measures, times, bs, gen, law=None) -> dict:
        """RMS residual of the reading's HJB and RMS ||s_theta - s_eq|| at the grid times, with the
        one-sample estimate of grad log mu; with a closed-form ``law``, the same residuals with
        its exact score, RMS ||s_theta - s*||, and their standard errors."""
        res, gap = [], []
        exact = {"hjb_residual_exact": [], "fp_residual_exact": [], "score_error_exact": []}
        for i, t in enumerate(times):
            t = float(t)
            x, _, glm, y = self.batch(measures[i], t, bs, gen)
            res.append(self.hjb_residual(V, x, glm, t).detach().square().mean())
            with torch.no_grad():
                s = self.score_of(bind_labels(net, y), x, t)
            gap.append((s - self.s_eq(V, x, glm, t)).flatten(1).square().sum(1).mean())
            if law is None:
                continue
            with torch.no_grad():
                s_star = law.score(x.double(), self.sde, t).to(x.dtype)
            sq = {
                "hjb_residual_exact": self.hjb_residual(V, x, s_star, t).detach().square(),
                "fp_residual_exact": (s - self.s_eq(V, x, s_star, t)).flatten(1).square().sum(1),
                "score_error_exact": (s - s_star).flatten(1).square().sum(1),
            }
            for k, v in sq.items():
                exact[k].append(v.double())
        out = {"hjb_residual_rms": float(torch.stack(res).mean().sqrt()),
               "score_gap_rms": float(torch.stack(gap).mean().sqrt())}  # fmt: skip
        if law is not None:
            for k, terms in exact.items():
                out[f"{k}_rms"], out[f"{k}_se"] = _rms_and_se(torch.stack(terms))
        return out


def _rms_and_se(sq: torch.Tensor) -> tuple[float, float]:
    """sqrt of the mean of squared terms (time points x batch) and its standard error (delta
    method over the batch, time points independent)."""
    mean = sq.mean()
    var = sq.var(dim=1, unbiased=True).mean() / (sq.shape[0] * sq.shape[1])
    rms = float(mean.sqrt())
    return rms, float(var.sqrt() / (2 * rms)) if rms > 0 else 0.0


def bind_labels(net: nn.Module, y: torch.Tensor | None) -> nn.Module:
    """``net`` with labels ``y`` bound (None: ``net`` itself, the null class if conditional)."""
    return net if y is None else Conditioned(net, y=y)


def check_finite(loss: torch.Tensor, k: int, t: float, term: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite {term} loss at outer iteration {k}, t={t:.4f}")


def kde_score(x: torch.Tensor, particles: torch.Tensor) -> torch.Tensor:
    """Score of the particle cloud smoothed by an isotropic Gaussian (Silverman bandwidth)."""
    p = particles.flatten(1)
    n, d = p.shape
    h2 = float(p.var(0).mean()) * (4.0 / (n * (d + 2))) ** (2.0 / (d + 4))
    return (kernel_mean(x, particles, 1.0, h2) - x) / h2


METHOD = MFGDiffusion  # this module is method kind "mfg" (mfgstudy.methods.registry)
