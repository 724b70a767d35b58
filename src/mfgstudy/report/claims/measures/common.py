"""What several measurements share: per-seed values read from the metrics cube, the % by which
one arm beats another, a rate's regime and grid as the ledger shows them, and the companion
studies' cubes and gates."""

from __future__ import annotations

import re

import numpy as np

from mfgstudy.rates import welch_interval
from mfgstudy.report.claims.gates import support_gate
from mfgstudy.report.claims.verdicts import as_number

DDIM = "ddim"  # in a claim: DDIM sampling of the DDPM model (the paper's DDIM baseline)
PAPER_BASELINES = ("ddpm", DDIM, "edm", "flow_matching")  # the paper's Table 1 baselines


def seed_values(cubes: dict, metric: str, dataset: str, method: str) -> np.ndarray:
    """Per-seed values of an unperturbed image metric (last N), from the first sweep having it;
    ``method`` "ddim" is the DDPM model under the DDIM sampler, every other method is read off
    its non-DDIM sampler."""
    model, ddim = ("ddpm", True) if method == DDIM else (method, False)
    for cube in cubes.values():
        if metric not in cube or "eps" in cube.dims or dataset not in cube["dataset"].values:
            continue
        samplers = [s for s in cube["sampler"].values if (s == DDIM) == ddim]
        if model not in cube["method"].values or not samplers:
            continue
        da = cube[metric].sel({"dataset": dataset, "method": model, "sampler": samplers[0]})
        da = da.isel(steps=-1)
        v = da.values.reshape(da.sizes["seed"], -1)[:, 0]
        if np.isfinite(v).any():
            return v[np.isfinite(v)]
    return np.array([])


def percent_better(a, b, higher_is_better: bool = False, level: float = 0.95):
    """(point, lo, hi, what): the % by which the per-seed values ``a`` beat ``b`` (lower is
    better unless ``higher_is_better``), 100 (1 - r) or 100 (r - 1) with r = mean(a) / mean(b),
    its interval the Welch-Satterthwaite interval of log r (``mfgstudy.rates.welch_interval``,
    valid from two seeds per arm) mapped through the same monotone function."""
    r, r_lo, r_hi, what = welch_interval(a, b, "log_ratio", level)
    if higher_is_better:
        return 100.0 * (r - 1.0), 100.0 * (r_lo - 1.0), 100.0 * (r_hi - 1.0), what
    return 100.0 * (1.0 - r), 100.0 * (1.0 - r_hi), 100.0 * (1.0 - r_lo), what


def regime_of(r) -> dict | None:
    if not np.isfinite(r.tail_slope):
        return None  # no tail: the condition says why in its reason
    test = getattr(r, "regime_test", "")
    return {"passed": r.regime == "passed", "tail": r.tail, "local_slopes": r.local_slopes,
            "fit_all": as_number(r.fit_all), "grid": grid_text(r),
            "test": test if isinstance(test, str) else ""}  # fmt: skip


NUMBER = re.compile(r"\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def grid_text(r) -> str:
    """The grid a rate's local slopes span ("0.001-0.002: +0.50; ..." -> "0.001 to 0.1")."""
    pairs = [p.split(": ")[0] for p in str(r.local_slopes).split("; ") if p]
    ends = [float(v) for p in pairs for v in NUMBER.findall(p)]
    if not ends:
        return "the grid run"
    return f"{min(ends):g} to {max(ends):g}"


def study_cube(ctx, study: str):
    """The metrics cube of a companion study's sweep, or None where the study is not run."""
    sweep = ctx.studies.get(study, {}).get("sweep")
    return ctx.cubes.get(sweep) if sweep else None


def seed_values_of(cube, metric: str, method: str, **where) -> np.ndarray:
    """Per-seed values of ``metric`` for ``method`` at the last N (the first value of every
    other dim not named in ``where``), non-finite ones included."""
    if cube is None or metric not in cube or method not in cube["method"].values:
        return np.array([])
    da = cube[metric].sel({"method": method, **where}).isel(steps=-1)
    for d in [d for d in da.dims if d != "seed"]:
        da = da.isel({d: 0})
    return np.asarray(da.values, float).ravel()


def per_seed(cube, metric: str, method: str, **where) -> np.ndarray:
    """:func:`seed_values_of`, finite values only."""
    v = seed_values_of(cube, metric, method, **where)
    return v[np.isfinite(v)]


def divergence_gate(cube, methods) -> dict | None:
    """A failed gate where a compared model's sampler gave non-finite samples on some seed (a
    diverged model has no law to compare; its metrics read infinite), naming the share per
    seed; None where every sample of every seed is finite."""
    shares = {m: seed_values_of(cube, "nonfinite_fraction", m) for m in methods}
    bad = {m: v for m, v in shares.items() if np.any(v[np.isfinite(v)] > 0)}
    if not bad:
        return None
    text = "; ".join(f"{m}: non-finite samples on {int(np.sum(v > 0))} of {len(v)} seeds ("
                     + ", ".join(f"{100 * x:.0f} %" for x in v) + ")"
                     for m, v in bad.items())  # fmt: skip
    return {
        "passed": False,
        "bar": "every sample finite",
        "numbers": {m: [as_number(x) for x in v] for m, v in bad.items()},
        "summary": f"{text}: a model whose sampler diverges has no law to compare",
    }


def study_gate(ctx, cube, method: str) -> dict:
    """The checkerboard gate (bars: the claims file's ``fidelity.checkerboard``) on ``method``'s
    seed means: share in the support and W2 to the data against the floor."""
    w2 = per_seed(cube, "w2_uncoupled", method)
    inside = per_seed(cube, "in_support", method)
    floor = (float(np.asarray(cube["w2_floor_mean"].values, float).ravel()[0])
             if "w2_floor_mean" in cube else np.nan)  # fmt: skip
    gate = support_gate(w2.mean() if len(w2) else np.nan, floor,
                        inside.mean() if len(inside) else np.nan,
                        ctx.settings.fidelity["checkerboard"])  # fmt: skip
    gate["summary"] = f"{method}: {gate['summary']}"
    return gate
