"""Theorem 2 on two laws: where it must hold (a Gaussian, closed form) and where it may not (a
mixture with well-separated modes and unequal weights, at the law level).

**Gaussian** (``gaussian_curves``). For a Gaussian law every sampler step is affine, so the N-step
law is Gaussian and its W2 to the sampler's continuous-time limit is exact
(``mfgstudy.metrics.gaussian``): a rate can be followed as far in N as it needs, at the cost of
N affine steps per point. Each (sampler, grid) curve
starts at ``steps.start`` and doubles N until the tail of ``mfgstudy.rates`` passes its regime
test over ``steps.min_points`` points, or W2 reaches round-off (an exact sampler, or a
second-order one at large N), or N exceeds ``steps.max``. The curves are one store, dims
(sampler, grid, steps), NaN where a curve stopped earlier.

**Mixture** (``mixture_refinements``). A Gaussian mixture with well-separated modes and unequal
weights (the paper's Assumption A1 does not exclude it), exact score. The N-step law has no closed
form; the coupled pathwise error bounds W2 from above only and cannot show a rate worse than it
suggests, while an N-step sampler that misplaces O(1/N) of the mass between modes is at W2 ~
sqrt(1/N) from the continuous law. So the distance is estimated at the law level
(``mfgstudy.metrics.mixture_w2``: MW2 between per-mode summaries: weights, means, covariances),
between successive refinements: D(N) = W2(law_N, law_2N), for N doubling up to ``steps.max``. No
reference run stands in for the continuous law (its own error would bias the tail): if W2(law_N,
law_inf) = C N^-q (1 + o(1)), the triangle inequality gives C N^-q (1 - 2^-q) <= D(N) <= C N^-q (1 +
2^-q), the same rate q; and summing D over the doublings bounds W2(law_N, law_inf) from above. Every
N is driven by one Brownian path per sample on the finest grid, all in one pass (a coarse increment
is the sum of the fine ones), so the Monte-Carlo errors of the summaries cancel in their difference;
what remains (the samples that switch mode) is the estimator's floor, its jackknife standard error
over sample blocks, stored beside every value with the delete-one-block replicates. Beside it, for
two modes, the dual lower bound from the mass crossing between them (``transfer_lower_bound``,
``w2_transfer``): a lower bound on W2(law_N, law_2N) that decays slower than 1/N refutes W2(law_N,
law_inf) <= C/N rigorously, since W2(law_N, law_2N) <= W2(law_N, law_inf) + W2(law_2N, law_inf). The
coupled pathwise error between the same pairs and the per-mode weights are stored for comparison.
For a deterministic sampler the same D(N) is also computed without sampling noise
(``exact_refinements``, ``mfgstudy.metrics.mixture_exact``: for isotropic components with one std
and collinear means the sampler's dynamics decouple along the line of the means, and D(N) is a
1-D quadrature of the N- and 2N-step maps to ~1e-8 relative), N doubling up to
``steps.exact_max``; with the exact mass that changes mode and the exact dual lower bound.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from mfgstudy.core.mixtures import isotropic_score, mixture_law
from mfgstudy.rates import RateSpec, fit_rate

log = logging.getLogger(__name__)

ROUND_OFF = 1e-7  # W2 is a square root: variances at round-off (1e-16) give ~1e-8


def doubling_curve(w2_at, start: int, stop: int, rates: RateSpec, min_points: int):
    """(steps, W2) doubling N from ``start`` until the regime test passes at two successive N
    (each over at least ``min_points`` points: a pre-asymptotic plateau whose local slopes agree
    for one doubling is not taken for the limit), W2 falls under round-off, or N passes
    ``stop``."""
    steps, values = [], []
    n, passed = start, 0
    while n <= stop:
        steps.append(n)
        values.append(w2_at(n))
        if values[-1] < rates.floor_factor * ROUND_OFF:
            break
        if len(steps) >= min_points:
            rate = fit_rate(steps, values, rates, resampling="exact", floor=ROUND_OFF)
            passed = passed + 1 if rate.regime else 0
            if passed == 2:
                break
        n *= 2
    return np.array(steps), np.array(values)


def gaussian_curves(spec: dict, data) -> tuple[xr.Dataset, dict]:
    """Closed-form W2 against N for every sampler and grid of ``spec`` on the Gaussian law of
    ``data``; and the attributes that say what was measured."""
    rates = RateSpec.from_dict(spec["rates"], floor_factor=spec["floor_factor"])
    start, stop = int(spec["steps"]["start"]), int(spec["steps"]["max"])
    curves = {}
    for s_name, s_spec in spec["samplers"].items():
        for g_name, g_spec in spec["grids"].items():
            unit = {**spec, "sampler": s_spec, "grid": g_spec}
            at = closed_form_w2(unit, data)
            if at is None:
                raise ValueError(
                    f"convergence.gaussian: data set {spec['dataset']!r} with method "
                    f"{spec['method_name']!r} has no closed form (a one-component Gaussian law "
                    "and the exact score are needed)"
                )
            t1 = time.time()
            steps, w2 = doubling_curve(lambda n, at=at: at(n)["w2_closed"], start, stop, rates,
                                       spec["steps"]["min_points"])  # fmt: skip
            curves[(s_name, g_name)] = dict(zip(steps.tolist(), w2.tolist(), strict=True))
            log.info("%s/%s: N = %d..%d, W2 %.3g..%.3g (%.1fs)", s_name, g_name, steps[0],
                     steps[-1], w2[0], w2[-1], time.time() - t1)  # fmt: skip
    all_steps = sorted({n for c in curves.values() for n in c})
    samplers, grids = list(spec["samplers"]), list(spec["grids"])
    arr = np.full((len(samplers), len(grids), len(all_steps)), np.nan)
    for (s, g), c in curves.items():
        for n, v in c.items():
            arr[samplers.index(s), grids.index(g), all_steps.index(n)] = v
    ds = xr.Dataset(
        {"w2_closed": (("sampler", "grid", "steps"), arr)},
        coords={"sampler": samplers, "grid": grids, "steps": all_steps},
    )
    return ds, {"dataset": spec["dataset"], "method": spec["method_name"], "round_off": ROUND_OFF,
                "regime_tol_exact": rates.regime_tol_exact}  # fmt: skip


# --- the mixture: law-level W2 ------------------------------------------------------------------
def all_levels(sampler, sde, score, fine_grid: np.ndarray, levels: list[int], x_T, rng):
    """The final states of the sampler at every N in ``levels`` (each dividing the fine grid's
    step count), started at the same x_T and driven by one Brownian path per sample drawn on
    the fine grid: {N: x_N}. The fine grid's own run is the last level."""
    import torch

    n_fine = len(fine_grid) - 1
    states = {n: x_T.clone() for n in levels}
    acc = {n: torch.zeros_like(x_T) for n in levels}
    dt = -np.diff(fine_grid)
    for k in range(n_fine):
        dw = None
        if sampler.stochastic:
            dw = torch.from_numpy(rng.standard_normal(tuple(x_T.shape)) * np.sqrt(dt[k]))
        for n in levels:
            f = n_fine // n
            if dw is not None:
                acc[n] += dw
            if (k + 1) % f:
                continue
            t, t_next = float(fine_grid[k + 1 - f]), float(fine_grid[k + 1])
            z = acc[n] / np.sqrt(t - t_next) if dw is not None else None
            with torch.no_grad():
                states[n] = sampler.step(sde, score, states[n], t, t_next, z)
            acc[n].zero_()
    return states


def _without_block(n: int, blocks: int):
    """Index masks of the n samples without each of ``blocks`` contiguous blocks (the same
    blocks as ``mixture_w2.law_w2``'s jackknife)."""
    from mfgstudy.metrics.mixture_w2 import block_edges

    edges = block_edges(n, blocks)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        keep = np.ones(n, bool)
        keep[lo:hi] = False
        yield keep


def mixture_refinements(spec: dict) -> tuple[xr.Dataset, dict]:
    """Law-level W2 between successive refinements N, 2N of every sampler on a mixture; and the
    attributes that say what was measured."""
    import torch

    from mfgstudy.core.samplers import build_sampler
    from mfgstudy.core.sde import VPSDE, grid_from_spec
    from mfgstudy.metrics.mixture_w2 import law_w2, summarise, transfer_lower_bound
    from mfgstudy.metrics.w2 import w2_coupled

    law = mixture_law(spec["law"])
    centres = law.means.numpy()
    sde = VPSDE.from_spec(spec["sde"])
    start, stop = int(spec["steps"]["start"]), int(spec["steps"]["max"])
    steps = [start * 2**k for k in range(64) if start * 2**k <= stop]
    levels = [*steps, 2 * steps[-1]]
    n_samples, batch = int(spec["n_samples"]), int(spec.get("batch_size", 25_000))
    score = isotropic_score(law, sde)
    samplers = list(spec["samplers"])
    shape = (len(samplers), len(steps))
    res = {k: np.full(shape, np.nan) for k in ("w2_law", "w2_law_se", "weight_term",
                                               "within_term", "w2_coupled", "w2_transfer",
                                               "w2_transfer_se")}  # fmt: skip
    reps = np.full((*shape, int(spec["blocks"])), np.nan)
    reps_lb = np.full_like(reps, np.nan)
    weights = np.full((len(samplers), len(levels), len(centres)), np.nan)
    for i, s_name in enumerate(samplers):
        t1 = time.time()
        sampler = build_sampler(spec["samplers"][s_name])
        fine_grid = grid_from_spec(sde, levels[-1], spec["grid"])
        finals = {n: [] for n in levels}
        for b, lo in enumerate(range(0, n_samples, batch)):
            rng = np.random.default_rng([int(spec["seed"]), b])
            x_T = torch.from_numpy(rng.standard_normal((min(batch, n_samples - lo), 2)))
            for n, x in all_levels(sampler, sde, score, fine_grid, levels, x_T, rng).items():
                finals[n].append(x.numpy())
            log.info("%s: %d of %d samples (%.0fs)", s_name, lo + len(x_T), n_samples,
                     time.time() - t1)  # fmt: skip
        finals = {n: np.concatenate(v) for n, v in finals.items()}
        for j, n in enumerate(levels):
            weights[i, j] = summarise(finals[n], centres).weights
        for j, n in enumerate(steps):
            est = law_w2(finals[n], finals[2 * n], centres, blocks=int(spec["blocks"]))
            res["w2_law"][i, j], res["w2_law_se"][i, j] = est.value, est.se
            res["weight_term"][i, j], res["within_term"][i, j] = est.weight_term, est.within_term
            res["w2_coupled"][i, j] = w2_coupled(finals[n], finals[2 * n])[0]
            if len(centres) == 2:  # the dual lower bound from the mass crossing between modes
                lb = transfer_lower_bound(finals[n], finals[2 * n], centres)
                res["w2_transfer"][i, j], res["w2_transfer_se"][i, j] = lb
                for b, keep in enumerate(_without_block(n_samples, reps.shape[-1])):
                    reps_lb[i, j, b] = transfer_lower_bound(
                        finals[n][keep], finals[2 * n][keep], centres
                    )[0]
            reps[i, j] = est.replicates
        log.info("%s: W2(law_N, law_2N) %s (se %s) in %.1fs", s_name,
                 np.array2string(res["w2_law"][i], precision=4),
                 np.array2string(res["w2_law_se"][i], precision=1), time.time() - t1)  # fmt: skip
    dims = ("sampler", "steps")
    ds = xr.Dataset(
        {**{k: (dims, v) for k, v in res.items()},
         "w2_law_jackknife": ((*dims, "block"), reps),
         "w2_transfer_jackknife": ((*dims, "block"), reps_lb),
         "mode_weight": (("sampler", "level", "component"), weights)},
        coords={"sampler": samplers, "steps": steps, "level": levels,
                "block": np.arange(reps.shape[-1]), "component": np.arange(len(centres))},
    )  # fmt: skip
    exact_max = spec["steps"].get("exact_max")
    deterministic = [s for s in samplers if not build_sampler(spec["samplers"][s]).stochastic]
    if exact_max and deterministic:
        ds = ds.merge(exact_refinements(spec, law, sde, deterministic, int(exact_max)))
    attrs = {"dataset": spec["name"], "method": "exact", "grid": spec["grid_name"],
             "estimator": "law-level MW2 between successive refinements N and 2N "
                          "(mfgstudy.metrics.mixture_w2); for a deterministic sampler, the "
                          "exact W2 to steps_exact (mfgstudy.metrics.mixture_exact)"}  # fmt: skip
    return ds, attrs


EXACT_VARIABLES = ("w2", "mode_change_mass", "w2_transfer", "w2_mode_change", "w2_within",
                   "w2_across", "quadrature_change")  # fmt: skip


def exact_refinements(spec: dict, law, sde, samplers: list[str], exact_max: int) -> xr.Dataset:
    """W2(law_N, law_2N) of each deterministic sampler computed without sampling noise
    (``mfgstudy.metrics.mixture_exact``: the dynamics decouple along the line of the means, and
    the 1-D part is a quadrature), N doubling from ``steps.start`` to ``exact_max``: variables
    ``<name>_exact`` over (sampler, steps_exact)."""
    from mfgstudy.core.samplers import build_sampler
    from mfgstudy.metrics.mixture_exact import refinement_distances

    start = int(spec["steps"]["start"])
    steps = [start * 2**k for k in range(64) if start * 2**k <= exact_max]
    out = {f"{k}_exact": np.full((len(samplers), len(steps)), np.nan) for k in EXACT_VARIABLES}
    for i, name in enumerate(samplers):
        t1 = time.time()
        res = refinement_distances(law, sde, build_sampler(spec["samplers"][name]),
                                   spec["grid"], steps)  # fmt: skip
        for k in EXACT_VARIABLES:
            out[f"{k}_exact"][i] = res[k]
        log.info("%s: exact W2(law_N, law_2N) for N = %d..%d %s (quadrature change up to %.1e) "
                 "in %.1fs", name, steps[0], steps[-1], np.array2string(res["w2"], precision=4),
                 float(np.nanmax(res["quadrature_change"])), time.time() - t1)  # fmt: skip
    return xr.Dataset({k: (("sampler", "steps_exact"), v) for k, v in out.items()},
                      coords={"sampler": samplers, "steps_exact": steps})  # fmt: skip


def closed_form_w2(spec: dict, data):
    """Closed-form W2 per N for the exact oracle on a one-component Gaussian law (a Dirac
    included), else None: to the sampler's continuous-time limit (for a Dirac and a stochastic
    sampler, Theorem 2's law), and to the data law."""
    from mfgstudy.core.samplers import build_sampler
    from mfgstudy.core.sde import VPSDE, grid_from_spec, stopped
    from mfgstudy.methods.exact import ExactScore
    from mfgstudy.metrics.gaussian import continuous_law, sampler_law, theorem2_law, w2_gaussians

    mix = data.mixture
    if spec["method"]["kind"] != "exact" or mix is None or len(mix.weights) != 1:
        return None
    sde = stopped(VPSDE.from_spec(spec["sde"]), spec["grid"])
    score = ExactScore(spec["method"], sde).score_fn(data)
    sampler = build_sampler(spec["sampler"])
    m0, c0 = mix.means[0].numpy(), mix.covs[0].numpy()
    if data.ds.attrs.get("dataset_kind") == "dirac" and sampler.stochastic:
        limit = theorem2_law(sde, m0)  # the PDE paper's closed form (tested = the moment ODE)
    else:
        limit = continuous_law(sde, mix, sampler.stochastic)

    def at(n):
        m, c = sampler_law(sampler, sde, score, grid_from_spec(sde, n, spec["grid"]), mix.dim)
        return {
            "w2_closed": w2_gaussians(m, c, *limit),
            "w2_closed_data": w2_gaussians(m, c, m0, c0),
        }

    return at
