"""Theorem 4 and Corollary 5 at the equilibrium: score perturbations of the exact score.

By the paper's own Proposition 3 the equilibrium of its game is the true score, so the exact
score of a known law is the idealised equilibrium on which Theorem 4 (W2 <= K eps for
delta(x, t), K eps^(2/3) for delta(x, s, t)) and Corollary 5 (an adversarial delta_adv(x, t))
are judged. One job per (law, perturbation kind) runs the reverse SDE (eq. 32; Euler-Maruyama
on the study's VP SDE) with s* + delta, |delta|_2 <= eps, for every eps and seed, and measures
how far the output law moved, against the unperturbed run driven by the same x_T and Brownian
path (``mfgstudy.core.perturb`` supplies the perturbations, ``mfgstudy.core.mixtures`` the laws):

* ``coupled``: the RMS displacement sqrt(E|x_eps - x_0|^2), an **upper bound** on W2 (any
  coupling bounds it from above): it can confirm a bound claim, not refute it;
* ``moments``: the Bures distance between the Gaussians with the two sets' means and
  covariances, a **lower bound** on W2 (Gelbrich): it can refute a bound claim, not confirm it;
* ``law`` (laws with separated modes: ``modes: separated``): MW2 between per-mode summaries
  (``mfgstudy.metrics.mixture_w2``), a law-level estimate that sees mass moving between modes,
  with its jackknife standard error over sample blocks as its floor;
* ``transfer`` (separated laws of two modes): the dual **lower bound** on W2 from the mass that
  crosses between the modes (``transfer_lower_bound``), with its standard error: where mass
  ~ eps crosses, it decays like sqrt(eps) and refutes a linear bound rigorously.

Seeds are independent noise draws (x_T and paths), so an interval over >= 5 seeds is an
interval over Monte-Carlo replications of the same measurement. The discretisation check: the
coupled response at N and at 2N steps, the same ``n_check`` samples of the first seed driven by
the same paths (``check_coupled``), shows whether N is fine enough for the response to be the
continuous one.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import xarray as xr

from mfgstudy.core.adversarial import build_perturbation
from mfgstudy.core.mixtures import isotropic_score, mixture_law
from mfgstudy.core.samplers import build_sampler, integrate, sample_noise
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.metrics.mixture_w2 import law_w2, transfer_lower_bound

log = logging.getLogger(__name__)

ESTIMATORS = {"coupled": "upper bound", "moments": "lower bound", "law": "law-level estimate",
              "transfer": "lower bound"}  # fmt: skip


def _run(sampler, sde, score, grid, x_T, z, perturbation) -> np.ndarray:
    used = perturbation.for_batch(sampler, sde, score, grid, x_T, z) if perturbation else score
    with torch.no_grad():
        return integrate(sampler, sde, used, grid, x_T, z).numpy()


def responses(x: np.ndarray, clean: np.ndarray, centres: np.ndarray | None, blocks: int) -> dict:
    """How far x moved from the clean run: coupled, moments and (with centres) law level."""
    d = x - clean
    out = {"coupled": float(np.sqrt(np.mean(np.sum(d * d, axis=1))))}
    out["moments"] = law_w2(x, clean, clean.mean(0, keepdims=True), blocks=blocks).value
    if centres is not None:
        try:
            est = law_w2(x, clean, centres, blocks=blocks)
            out["law"], out["law_se"] = est.value, est.se
        except ValueError as e:  # a mode emptied by a large perturbation: no summary of it
            log.warning("law-level estimate skipped: %s", e)
        if len(centres) == 2:
            out["transfer"], out["transfer_se"] = transfer_lower_bound(x, clean, centres)
    return out


def measure(spec: dict) -> tuple[xr.Dataset, dict]:
    """Responses of the exact score's sampler to one perturbation kind at every eps and seed,
    with the discretisation check; and the attributes that say what was measured."""
    law = mixture_law(spec["law"])
    sde = VPSDE.from_spec(spec["sde"])
    score = isotropic_score(law, sde)
    sampler = build_sampler(spec["sampler"])
    steps = int(spec["steps"])
    adversarial = spec["perturbation"]["kind"] == "adversarial"
    n = int(spec["n_adversarial"] if adversarial else spec["n_samples"])
    centres = law.means.numpy() if spec["modes"] == "separated" else None
    eps = [float(e) for e in spec["eps"]]
    seeds = [int(s) for s in spec["seeds"]]
    names = ["coupled", "moments"]
    if centres is not None:
        names += ["law", "law_se"] + (["transfer", "transfer_se"] if len(centres) == 2 else [])
    res = {k: np.full((len(seeds), len(eps)), np.nan) for k in names}
    check = np.full((2, len(eps)), np.nan)

    def run_at(n_steps, seed, n_pts, path_steps=None):
        """The clean run and a function eps -> perturbed run, all driven by the same x_T and
        Brownian path (drawn on the grid of ``path_steps``, default n_steps)."""
        grid = grid_from_spec(sde, n_steps, spec["grid"])
        fine = grid_from_spec(sde, path_steps or n_steps, spec["grid"])
        x_T, z = sample_noise(seed, range(n_pts), (2,), fine, (path_steps or n_steps) // n_steps,
                              sampler.stochastic, torch.float64)  # fmt: skip
        clean = _run(sampler, sde, score, grid, x_T, z, None)

        def at(e):
            p = build_perturbation(spec["perturbation"], e, (2,))
            return _run(sampler, sde, score, grid, x_T, z, p)

        return clean, at

    for i, seed in enumerate(seeds):
        t1 = time.time()
        clean, at = run_at(steps, seed, n)
        for j, e in enumerate(eps):
            for k, v in responses(at(e), clean, centres, int(spec["blocks"])).items():
                res[k][i, j] = v
        log.info("seed %d: coupled %s (%.1fs)", seed,
                 np.array2string(res["coupled"][i], precision=3), time.time() - t1)  # fmt: skip
    # the discretisation check: the same samples and paths at N and 2N steps
    n_check = int(spec["n_check"])
    for col, n_steps in ((0, steps), (1, 2 * steps)):
        clean, at = run_at(n_steps, seeds[0], n_check, path_steps=2 * steps)
        for j, e in enumerate(eps):
            check[col, j] = float(np.sqrt(np.mean(np.sum((at(e) - clean) ** 2, axis=1))))
    ds = xr.Dataset(
        {k: (("seed", "eps"), v) for k, v in res.items()}
        | {"check_coupled": (("check_steps", "eps"), check)},
        coords={"seed": seeds, "eps": eps, "check_steps": [steps, 2 * steps]},
    )
    attrs = {"law": spec["law_name"], "perturbation": spec["perturbation_name"],
             "modes": spec["modes"], "steps": steps, "n_samples": n,
             "n_check": int(spec["n_check"]), "sampler": spec["sampler"]["kind"],
             "estimators": ", ".join(f"{k}: {v}" for k, v in ESTIMATORS.items())}  # fmt: skip
    return ds, attrs
