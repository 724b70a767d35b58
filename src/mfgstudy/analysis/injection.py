"""Class-embedding injection on digits: an ANALOG of the paper's section 7.4 (prompt injection).

The paper reports that MFG-Diffusion has a 35% lower prompt-injection success rate than Flow
Matching "at moderate perturbation levels" for text-to-image models. Text-to-image cannot run
offline, so this module measures the nearest thing the study can train: class-conditional
diffusion models on scikit-learn's 8x8 digits (``TinyUNet(n_classes=10)``), whose conditioning
signal, the class embedding, plays the part of the prompt embedding. It is not prompt injection:
no text, no tokens, no prompt encoder.

The attack. Sample i has a source class c_i (what was asked for) and a target class y_i (what
the attacker wants), and its own x_T (and Brownian path, for a stochastic sampler) drawn from
``numpy.random.default_rng([seed, i])`` as in ``mfgstudy.core.samplers.sample_noise``. The sampler
runs with the class embedding E[c_i] + delta_i, ||delta_i||_2 <= eps * rho, where rho is the
mean L2 norm of the n_classes class embeddings: **eps is relative to the typical embedding
norm** (for reference, the results store the mean ||E[y] - E[c]|| / rho, the eps from which the
target's own embedding is inside the ball). delta_i maximises log p(y_i | x_0(delta_i)) under
the pipeline's digits classifier, x_0 the sampler's output after the pipeline's uint8
quantisation (straight-through gradient), by projected gradient ascent through the whole
sampler: ``pgd_iters`` steps along the normalised gradient of size ``pgd_lr * eps * rho``, each
followed by projection onto the L2 ball, starting from delta = 0 and keeping each sample's best
iterate. Keep-best includes delta = 0, so the attacked target probability is never below the
unperturbed one; eps = 0 is the no-attack baseline. The sampler should be short (~20 steps) so
that gradients through it are cheap. It may be stochastic: each sample's noise is fixed, so
x_0(delta) is still a deterministic, differentiable function of delta. (Measured on a
conditional DDPM on digits: DDIM eta = 0 gives a clean conditional accuracy of 0.75-0.77 at 20
to 100 steps, the exponential integrator or DDIM eta = 1 at 20 steps 0.99; a stochastic sampler
gives the cleaner baseline at the same cost, ~20 s for 100 samples, 5 eps, 8 PGD iterations on
one CPU thread.)

Recorded per eps: the attack success rate (share classified as the target), the share classified
as the source (at eps = 0 the clean conditional accuracy), the mean target probability, and
per-sample predictions, target probabilities and ||delta||.

The attack computes on the device of the network (``mfgstudy.device``; the job puts the network
and the classifier on its device); the noise is drawn on the CPU and moved there.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import xarray as xr
from torch import nn

from mfgstudy.core.perturb import project
from mfgstudy.device import of
from mfgstudy.nets import Conditioned, is_conditional

log = logging.getLogger(__name__)

ANALOG = (
    "ANALOG of section 7.4 (prompt injection in text-to-image models): class-embedding "
    "perturbation of class-conditional diffusion models on 8x8 digits, not prompt injection"
)
EPS_SCALE = (
    "eps is relative to the typical class-embedding norm: ||delta||_2 <= eps * rho, "
    "rho = mean L2 norm of the class embeddings (null class excluded)"
)


def class_embeddings(net: nn.Module) -> torch.Tensor:
    """The (n_classes, emb_dim) learned class embeddings of a conditional net (null excluded)."""
    if not is_conditional(net):
        raise ValueError("the attack needs a class-conditional network (n_classes > 0)")
    return net.label_emb.weight[: net.n_classes].detach()


def embedding_scale(net: nn.Module) -> float:
    """rho: the mean L2 norm of the class embeddings, the unit of eps."""
    return float(class_embeddings(net).norm(dim=1).mean())


def quantise(x: torch.Tensor) -> torch.Tensor:
    """The pipeline's model -> uint8 -> model round trip (``model_to_images`` then
    ``images_to_model``), with a straight-through gradient; non-finite values become 0, as the
    sample job stores them."""
    x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
    q = ((x.detach().clamp(-1, 1) + 1.0) * 127.5).round() / 127.5 - 1.0
    return x + (q - x).detach()


def attack(
    method,
    net: nn.Module,
    classifier: nn.Module,
    sde,
    sampler_spec: dict,
    grid_spec: dict,
    steps: int,
    sources,
    targets,
    eps_list,
    pgd_iters: int,
    pgd_lr: float,
    seed: int,
    batch_size: int = 100,
    event_shape: tuple[int, ...] = (1, 8, 8),
    dtype: torch.dtype = torch.float32,
) -> xr.Dataset:
    """The class-embedding attack (module docstring) on a conditional ``net`` of ``method``.

    ``sources``/``targets``: the class asked for and the attacker's class, per sample (sample i
    uses the noise of ``default_rng([seed, i])``). Returns a Dataset over ``eps`` (and
    ``sample``): success_rate, source_accuracy, target_prob_mean; per sample: pred, target_prob,
    delta_norm; coords source, target; attrs rho and the settings. Computes on the device of
    ``net`` (where ``classifier`` must be too); the results are numpy.
    """
    from mfgstudy.core.samplers import build_sampler, integrate, sample_noise
    from mfgstudy.core.sde import grid_from_spec

    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    eps_list = [float(e) for e in eps_list]
    if sources.shape != targets.shape or sources.ndim != 1:
        raise ValueError("sources and targets must be 1-D and of equal length")
    if any(e < 0 for e in eps_list):
        raise ValueError(f"eps must be >= 0, got {eps_list}")
    emb = class_embeddings(net)
    k = emb.shape[0]
    if sources.min(initial=0) < 0 or max(sources.max(initial=0), targets.max(initial=0)) >= k:
        raise ValueError(f"classes must lie in [0, {k})")
    rho = float(emb.norm(dim=1).mean())
    sampler = build_sampler(sampler_spec)
    grid = grid_from_spec(sde, int(steps), grid_spec)
    classifier = classifier.eval()
    device = of(net)

    def objective(base, delta, x_T, z, tgt, grad: bool):
        """log p(target | x_0) per sample, the class probabilities, and d/d delta if asked."""
        with torch.enable_grad() if grad else torch.no_grad(), np.errstate(all="ignore"):
            d = delta.detach().requires_grad_(grad)
            score = method.score_fn(Conditioned(net, y_emb=base + d))
            x0 = integrate(sampler, sde, score, grid, x_T, z)
            logp = torch.log_softmax(classifier(quantise(x0).float()), dim=1)
            obj = logp.gather(1, tgt[:, None])[:, 0]
            g = torch.autograd.grad(obj.sum(), d)[0] if grad else None
        g = None if g is None else torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        return obj.detach(), logp.detach().exp(), g

    n, ne = len(sources), len(eps_list)
    pred = np.zeros((ne, n), dtype=np.int64)
    tprob = np.zeros((ne, n))
    dnorm = np.zeros((ne, n))
    t0 = time.time()
    for lo in range(0, n, batch_size):
        idx = range(lo, min(lo + batch_size, n))
        src = torch.from_numpy(sources[lo : idx.stop]).to(device)
        tgt = torch.from_numpy(targets[lo : idx.stop]).to(device)
        x_T, z = sample_noise(seed, idx, event_shape, grid, 1, sampler.stochastic, dtype, device)
        base = emb[src]
        zero = torch.zeros_like(base)
        need_grad = any(e > 0 for e in eps_list) and pgd_iters > 0
        obj0, prob0, g0 = objective(base, zero, x_T, z, tgt, need_grad)
        for j, eps in enumerate(eps_list):
            best_obj, best_prob, best_delta = obj0.clone(), prob0.clone(), zero.clone()
            radius = eps * rho
            if radius > 0 and pgd_iters > 0:
                delta, g = zero, g0
                for it in range(int(pgd_iters)):
                    gn = g.norm(dim=1, keepdim=True)
                    step = torch.where(gn > 0, g / gn.clamp_min(1e-30), torch.zeros_like(g))
                    delta = project(delta + float(pgd_lr) * radius * step, radius)
                    last = it == int(pgd_iters) - 1
                    obj, prob, g = objective(base, delta, x_T, z, tgt, not last)
                    better = obj > best_obj  # keep-best: never below the delta = 0 start
                    best_obj = torch.where(better, obj, best_obj)
                    best_prob = torch.where(better[:, None], prob, best_prob)
                    best_delta = torch.where(better[:, None], delta, best_delta)
            sl = slice(lo, idx.stop)
            pred[j, sl] = best_prob.argmax(1).cpu().numpy()
            tprob[j, sl] = best_prob.gather(1, tgt[:, None])[:, 0].cpu().numpy()
            dnorm[j, sl] = best_delta.norm(dim=1).cpu().numpy()
    wall = time.time() - t0
    hit_target = pred == targets[None]
    hit_source = pred == sources[None]
    emb = emb.cpu()
    gaps = (emb[torch.from_numpy(targets)] - emb[torch.from_numpy(sources)]).norm(dim=1)
    ds = xr.Dataset(
        {
            "success_rate": (("eps",), hit_target.mean(1)),
            "source_accuracy": (("eps",), hit_source.mean(1)),
            "target_prob_mean": (("eps",), tprob.mean(1)),
            "pred": (("eps", "sample"), pred),
            "target_prob": (("eps", "sample"), tprob),
            "delta_norm": (("eps", "sample"), dnorm),
        },
        coords={
            "eps": np.asarray(eps_list),
            "sample": np.arange(n),
            "source": (("sample",), sources),
            "target": (("sample",), targets),
        },
        attrs={
            "description": ANALOG,
            "eps_scale": EPS_SCALE,
            "rho": rho,
            "target_gap_over_rho": float(gaps.mean()) / rho,
            "objective": "log p_classifier(target | x_0), x_0 quantised to uint8 "
            "(straight-through gradient)",
            "pgd": "normalised-gradient ascent, step pgd_lr * eps * rho, L2-ball projection, "
            "start delta = 0, keep each sample's best iterate (delta = 0 included)",
            "sampler": str(sampler_spec),
            "grid": str(grid_spec),
            "steps": int(steps),
            "pgd_iters": int(pgd_iters),
            "pgd_lr": float(pgd_lr),
            "noise_seed": int(seed),
            "n_samples": n,
            "attack_wall_s": wall,
        },
    )
    if 0.0 in eps_list:
        ds.attrs["clean_accuracy"] = float(ds["source_accuracy"].sel(eps=0.0))
    log.info(
        "attack on %d samples, %d eps in %.1fs: success %s",
        n,
        ne,
        wall,
        np.round(ds["success_rate"].values, 3).tolist(),
    )
    return ds
