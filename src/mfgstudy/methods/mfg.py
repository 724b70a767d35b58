"""MFG-Diffusion, the paper's Algorithm 1, with every reading it needs as a named switch.

Networks: a score network s_theta(x, t) (parametrised as -net(x, t) / sigma_t, like DDPM's
epsilon network; a parametrisation, not a change to the algorithm) and a value network
V_phi(x, t) (scalar). Time points 0 < t_1 < ... < t_{N-1} < T; measure estimates mu_i are particle
sets at each t_i. Each outer iteration k runs, for every i, the HJB step (lines 5-12), the
Fokker-Planck step (lines 13-19), then the measure update (lines 21-28).

Where the printed algorithm is ill-defined or contradicts its own equations, ``readings`` picks
an interpretation (the default is the one most faithful to the paper's stated intent):

``tweedie`` (line 9, the estimate of grad log mu at a noised data point x_t = alpha x0 + sigma z)
    ``printed``: -x0 / sqrt(1 - alpha_bar) as printed (not a score estimate: it ignores x_t);
    ``denoising`` (default): -z / sigma, the denoising-score-matching target, whose conditional
    mean is the true score (the paper's eq. 26 regresses onto the same target).
``value_target`` (lines 10-11)
    ``algorithm1``: line 10 with the gradient in x (the printed grad_phi V has the dimension of the
    parameters and cannot be added to a score): || grad_x V + g^2/(2 lambda) grad log mu ||^2;
    ``hjb_residual`` (default): the squared residual of the HJB equation (24),
    -dV/dt + f . grad V + g^2/2 lap V - g^4/(4 lambda) |grad V|^2 + lambda |grad log mu|^2, plus a
    terminal term (V(x, T) - |x|^2/2)^2 at x ~ N(0, I): eq. (18) sets V(T, x) = D(delta_x || p),
    infinite for KL; we keep its finite part for p = N(0, I), -log p(x) = |x|^2/2 + const.
``measure_update`` (lines 21-28)
    ``printed`` (default): re-noise the data at each t_i. The measure never sees the model, but it
    is the equilibrium measure the paper characterises: the forward marginal p_t (eq. 25 and
    Proposition 3), whose score line 9 estimates from the data;
    ``model_rollout``: run the reverse SDE with the current s_theta from N(0, I) and keep the
    particles at each t_i; grad log mu is then the score of the particle cloud smoothed by a
    Gaussian kernel (Silverman bandwidth), and the tweedie switch does not apply. After the first
    update the data no longer enter: the score is fitted to its own samples, so any law is a fixed
    point (the ablation measures what this does).
``update`` (lines 11 and 18)
    ``printed``: theta <- theta + alpha grad L_FP (ascent on a loss to be minimised); line 11's
    phi <- phi + alpha grad L_HJB with L_HJB = -||.||^2 already descends on ||.||^2;
    ``descent`` (default): descend on both squared norms.
``lr_schedule``: ``constant`` or ``inverse_k`` (Proposition 6's step sizes alpha = O(1/k)).

The equilibrium violation is logged at every outer iteration, so that Proposition 6's O(1/K)
can be measured: the RMS HJB residual of eq. 24 and RMS || s_theta - s_eq || with the
algorithm's own one-sample estimate of grad log mu (``hjb_residual_rms``, ``score_gap_rms``;
that estimate's noise is most of their value), and, where the data law is known in closed form
(``law``: Gaussian mixtures, the checkerboard), the same two residuals with the exact score of
the diffused law in place of the estimate (``hjb_residual_exact_rms``,
``fp_residual_exact_rms``: the left-hand sides of the HJB-FP equilibrium condition) and the
distance to the equilibrium itself, RMS || s_theta - s* || (``score_error_exact_rms``; by
Proposition 3 the equilibrium score is the true one). Each closed-form metric comes with its
Monte-Carlo standard error over the batch (``*_se``), the floor below which a decay cannot be
read; at the exact solution s_theta = s* the score error is 0.

Class conditioning (a score network with ``n_classes`` > 0, labels given to ``fit``): re-noised
particles carry the label of their data point, and the score network sees it in the FP step
(lines 13-19) after classifier-free label dropout (``label_dropout`` of the training spec); the
violation's score gap uses the particles' labels without dropout. The value network V stays
unconditional (the HJB step and s_eq are those of the label-free game). Under ``model_rollout``
the rolled-out particles have no label: the rollout runs the null-label score, and the score
network then trains on the null label only.

Device and resume (``mfgstudy.train``): the networks and the measure estimates live on the run's
device, every draw comes from the CPU generator ``gen`` and is moved there. The loop checkpoints
after every ``every``-th outer iteration (default 1): networks, EMA, both optimisers, ``gen`` and
torch's global generator, the measure estimates and the log rows, so that a resumed run ends
bit-identical on the CPU; a stop before the walltime happens between outer iterations. Algorithm
1 runs in one process: torch.distributed (WORLD_SIZE > 1) is refused.
"""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm import tqdm

from mfgstudy.diffops import divergence
from mfgstudy.exact import kernel_mean
from mfgstudy.methods.base import Method, ScoreFn
from mfgstudy.nets import Conditioned, build_net
from mfgstudy.train import (
    check_labels,
    default_runtime,
    drop_labels,
    dropout_rate,
    ema_update,
    rng_state,
    set_rng_state,
    to_cpu,
)

log = logging.getLogger(__name__)

READINGS = {
    "tweedie": ("denoising", "printed"),
    "value_target": ("hjb_residual", "algorithm1"),
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
    def __init__(self, spec: dict, sde):
        super().__init__(spec, sde)
        self.readings = {k: spec.get("readings", {}).get(k, v[0]) for k, v in READINGS.items()}
        for k, v in self.readings.items():
            if v not in READINGS[k]:
                raise ValueError(f"mfg reading {k}={v!r}; choose from {READINGS[k]}")
        self.gamma = float(spec.get("gamma", 0.0))

    # --- schedule ---------------------------------------------------------------------------
    def lam(self, t: float) -> float:
        lam = self.spec.get("lambda", {"kind": "constant", "value": 1.0})
        if lam["kind"] == "constant":
            return float(lam["value"])
        return float(lam["value"]) * float(self.sde.g2(t))  # "g2": lambda proportional to g^2

    def time_points(self, n: int) -> np.ndarray:
        """t_1 < ... < t_{N-1} of the grid 0 = t_0 < ... < t_N = T (t_0 moved to t_min)."""
        return self.sde.t_min + (self.sde.T - self.sde.t_min) * np.arange(1, n) / n

    # --- networks -----------------------------------------------------------------------------
    def score_of(self, net: nn.Module, x: torch.Tensor, t: float) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t / self.sde.T, device=x.device)
        return -net(x, tt.float()) / float(self.sde.sigma(t))

    def score_fn(self, net) -> ScoreFn:
        def score(x: torch.Tensor, t: float) -> torch.Tensor:
            return self.score_of(net, x.float(), t).to(x.dtype)

        return score

    def loss(self, net, x0, gen):  # pragma: no cover - Algorithm 1 has its own loop
        raise TypeError("MFG-Diffusion trains with Algorithm 1 (MFGDiffusion.fit)")

    # --- measure estimates --------------------------------------------------------------------
    def renoised(self, x_train, t: float, m: int, gen, labels=None, device="cpu") -> dict:
        """Lines 22-28 as printed: alpha x0 + sigma z for m data points (with their labels, "y",
        where ``labels`` are given), drawn on the CPU and moved to ``device``."""
        idx = torch.randint(len(x_train), (m,), generator=gen)
        x0 = x_train[idx]
        z = torch.randn(x0.shape, generator=gen)
        out = {"x": float(self.sde.alpha(t)) * x0 + float(self.sde.sigma(t)) * z, "x0": x0, "z": z}
        if labels is not None:
            out["y"] = labels[idx]
        return {k: v.to(device) for k, v in out.items()}

    def rollout(self, net, times: np.ndarray, m: int, shape, gen, device="cpu") -> list[dict]:
        """Particles of the reverse SDE (Euler-Maruyama) under the current score at each t_i,
        on ``device`` (the noise drawn on the CPU generator and moved)."""
        from mfgstudy.samplers import EulerMaruyama

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

    def batch(self, particles: dict, t: float, bs: int, gen):
        """A batch from the measure estimate at t: (x, its estimate of grad log mu, the
        particles' labels or None)."""
        idx = torch.randint(len(particles["x"]), (bs,), generator=gen)
        idx = idx.to(particles["x"].device)
        x = particles["x"][idx]
        y = particles["y"][idx] if "y" in particles else None
        sigma = float(self.sde.sigma(t))
        if "x0" in particles:  # re-noised data: line 9
            ref = particles["x0"] if self.readings["tweedie"] == "printed" else particles["z"]
            return x, -ref[idx] / sigma, y
        return x, kde_score(x, particles["x"]), y

    # --- Algorithm 1 --------------------------------------------------------------------------
    def value_loss(self, V, x, grad_log_mu, t: float) -> torch.Tensor:
        g2, lam = float(self.sde.g2(t)), self.lam(t)
        if self.readings["value_target"] == "algorithm1":
            gv = self.grad_x(V, x, t)
            return (gv + g2 / (2 * lam) * grad_log_mu).flatten(1).square().sum(1).mean()
        res = self.hjb_residual(V, x, grad_log_mu, t, create_graph=True)
        xT = torch.randn(x.shape, dtype=x.dtype).to(x.device)  # torch's global CPU generator
        vT = V(xT, torch.full((x.shape[0],), 1.0, device=x.device))
        terminal = (vT - 0.5 * xT.flatten(1).square().sum(1)).square().mean()
        return res.square().mean() + terminal

    def hjb_residual(self, V, x, grad_log_mu, t: float, create_graph: bool = False):
        """Residual of eq. (24) at (x, t), exact Laplacian for d <= 4, Hutchinson above."""
        g2, lam, beta = float(self.sde.g2(t)), self.lam(t), float(self.sde.beta(t))
        x = x.detach().requires_grad_(True)
        tt = torch.full((x.shape[0],), t / self.sde.T, device=x.device, requires_grad=True)
        v = V(x, tt)
        gx, gt = torch.autograd.grad(v.sum(), (x, tt), create_graph=True)
        dv_dt = gt / self.sde.T
        lap = divergence(gx, x, create_graph=create_graph)  # Laplacian of V
        drift = (-0.5 * beta * x * gx).flatten(1).sum(1)
        grad_sq = gx.flatten(1).square().sum(1)
        score_sq = grad_log_mu.flatten(1).square().sum(1)
        return -dv_dt + drift + 0.5 * g2 * lap - g2 * g2 / (4 * lam) * grad_sq + lam * score_sq

    def s_eq(self, V, x, grad_log_mu, t: float) -> torch.Tensor:
        """The equilibrium score of line 16 (eq. 23): grad log mu - g^2/(2 lambda) grad_x V."""
        g2, lam = float(self.sde.g2(t)), self.lam(t)
        return grad_log_mu - g2 / (2 * lam) * self.grad_x(V, x, t, create_graph=False).detach()

    def grad_x(self, V, x: torch.Tensor, t: float, create_graph: bool = True) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        v = V(x, torch.full((x.shape[0],), t / self.sde.T, device=x.device))
        return torch.autograd.grad(v.sum(), x, create_graph=create_graph)[0]

    def fit(
        self,
        net: nn.Module,
        x_train: torch.Tensor,
        spec: dict,
        seed: int,
        data_kind: str,
        labels: torch.Tensor | None = None,
        run=None,
        law=None,
    ):
        """Run Algorithm 1; return (EMA score net, log Dataset, {"value_net": state dict}).
        ``labels`` (aligned with ``x_train``) for a class-conditional score net, else None;
        ``run`` (``mfgstudy.train.Runtime``): device and checkpointing, in outer iterations."""
        run = run or default_runtime()
        if run.world > 1:
            raise ValueError(
                "MFG-Diffusion's Algorithm 1 trains on one device here; set gpus for train to 1 "
                f"(this job runs {run.world} processes)"
            )
        dev = run.device
        labels = check_labels(net, x_train, labels)
        p_drop = dropout_rate(spec, labels)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        shape = tuple(x_train.shape[1:])
        V = ValueNet(self.spec["value_net"][data_kind], shape).to(dev)
        net.to(dev)
        times = self.time_points(int(spec["time_points"]))
        K, bs, m = int(spec["outer_iters"]), int(spec["batch_size"]), int(spec["measure_size"])
        opt_v = torch.optim.Adam(V.parameters(), lr=float(spec["lr"]))
        opt_s = torch.optim.Adam(net.parameters(), lr=float(spec["lr"]))
        ascend_fp = self.readings["update"] == "printed"
        ema, decay = copy.deepcopy(net).eval(), float(spec["ema"])
        state = run.ckpt.load("mfg") if run.ckpt is not None else None
        if state is None:  # mu^(0)
            measures = [self.renoised(x_train, float(t), m, gen, labels, dev) for t in times]
            rows, start, wall = [], 0, 0.0
        else:
            net.load_state_dict(state["net"])
            V.load_state_dict(state["value_net"])
            ema.load_state_dict(state["ema"])
            opt_v.load_state_dict(state["opt_v"])
            opt_s.load_state_dict(state["opt_s"])
            gen.set_state(state["gen"])
            set_rng_state(state, dev)
            measures = [{k: v.to(dev) for k, v in mu.items()} for mu in state["measures"]]
            rows, start, wall = state["rows"], state["outer_iter"], state["wall_s"]
            log.info("resuming from checkpoint %s at outer iteration %d of %d",
                     run.ckpt.path, start, K)  # fmt: skip
        t0, unit_s = time.time() - wall, 0.0
        outer = tqdm(range(start + 1, K + 1), initial=start, total=K,
                     desc="MFG outer iterations", mininterval=10.0)  # fmt: skip
        for k in outer:
            tic = time.time()
            lr = float(spec["lr"]) / (k if self.readings["lr_schedule"] == "inverse_k" else 1)
            for opt in (opt_v, opt_s):
                for group in opt.param_groups:
                    group["lr"] = lr
            losses = {"hjb_loss": [], "fp_loss": []}
            for i, t in enumerate(times):
                t = float(t)
                for _ in range(int(spec["hjb_batches"])):  # lines 5-12
                    x, glm, _ = self.batch(measures[i], t, bs, gen)
                    loss = self.value_loss(V, x, glm, t)
                    _check(loss, k, t, "hjb")
                    opt_v.zero_grad(set_to_none=True)
                    loss.backward()
                    opt_v.step()
                    losses["hjb_loss"].append(float(loss.detach()))
                for _ in range(int(spec["fp_batches"])):  # lines 13-19
                    x, glm, y = self.batch(measures[i], t, bs, gen)
                    if y is not None:
                        y = drop_labels(y, p_drop, net.null_label, gen)
                    s = self.score_of(_bind(net, y), x, t)
                    target = self.s_eq(V, x, glm, t)
                    loss = (s - target).flatten(1).square().sum(1).mean()
                    loss = loss + self.gamma * s.flatten(1).square().sum(1).mean()
                    _check(loss, k, t, "fp")
                    opt_s.zero_grad(set_to_none=True)
                    (-loss if ascend_fp else loss).backward()
                    opt_s.step()
                    ema_update(ema, net, decay)
                    losses["fp_loss"].append(float(loss.detach()))
            if self.readings["measure_update"] == "model_rollout":  # lines 21-28
                measures = self.rollout(net, times, m, shape, gen, dev)
            else:
                measures = [self.renoised(x_train, float(t), m, gen, labels, dev) for t in times]
            rows.append({"outer_iter": k, "wall_s": time.time() - t0,
                         **{n: float(np.mean(v)) for n, v in losses.items()},
                         **self.violation(net, V, measures, times, bs, gen, law)})  # fmt: skip
            unit_s = max(unit_s, time.time() - tic)
            if run.ckpt is None:
                continue
            stop = k < K and run.ckpt.time_is_up(unit_s)
            if stop or run.ckpt.due(k, K, 1):
                state = {
                    "outer_iter": k,
                    "net": to_cpu(net.state_dict()),
                    "value_net": to_cpu(V.state_dict()),
                    "ema": to_cpu(ema.state_dict()),
                    "opt_v": to_cpu(opt_v.state_dict()),
                    "opt_s": to_cpu(opt_s.state_dict()),
                    "gen": gen.get_state(),
                    **rng_state(dev),
                    "measures": to_cpu(measures),
                    "rows": rows,
                    "wall_s": time.time() - t0,
                }
                run.ckpt.save(state, "mfg")
            if stop:
                raise run.ckpt.stop(k, "outer iteration")
        ds = xr.Dataset(
            {
                c: (("outer_iter",), np.array([r[c] for r in rows]))
                for c in rows[0]
                if c != "outer_iter"
            },
            coords={"outer_iter": [r["outer_iter"] for r in rows]},
            attrs={f"reading_{k}": v for k, v in self.readings.items()},
        )
        return ema, ds, {"value_net": V.state_dict()}

    def violation(self, net, V, measures, times, bs, gen, law=None) -> dict:
        """RMS HJB residual (eq. 24) and RMS ||s_theta - s_eq|| over the time points, with the
        one-sample estimate of grad log mu; with a closed-form ``law``, the same residuals with
        its exact score, RMS ||s_theta - s*||, and their standard errors."""
        res, gap = [], []
        exact = {"hjb_residual_exact": [], "fp_residual_exact": [], "score_error_exact": []}
        for i, t in enumerate(times):
            t = float(t)
            x, glm, y = self.batch(measures[i], t, bs, gen)
            res.append(self.hjb_residual(V, x, glm, t).detach().square().mean())
            with torch.no_grad():
                s = self.score_of(_bind(net, y), x, t)
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


def _bind(net: nn.Module, y: torch.Tensor | None) -> nn.Module:
    """``net`` with labels ``y`` bound (None: ``net`` itself, the null class if conditional)."""
    return net if y is None else Conditioned(net, y=y)


def _check(loss: torch.Tensor, k: int, t: float, term: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite {term} loss at outer iteration {k}, t={t:.4f}")


def kde_score(x: torch.Tensor, particles: torch.Tensor) -> torch.Tensor:
    """Score of the particle cloud smoothed by an isotropic Gaussian (Silverman bandwidth)."""
    p = particles.flatten(1)
    n, d = p.shape
    h2 = float(p.var(0).mean()) * (4.0 / (n * (d + 2))) ** (2.0 / (d + 4))
    return (kernel_mean(x, particles, 1.0, h2) - x) / h2
