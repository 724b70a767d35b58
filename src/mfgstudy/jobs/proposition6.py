"""Proposition 6 on its exact finite-dimensional case (``mfgstudy.analysis.proposition6_exact``):
Algorithm 1 under the chosen reading on the Gaussian law, without a network, for thousands of
outer iterations with step sizes alpha_k = alpha_0 / k; the store of the violation against k per
alpha_0 (its rate table, which the ledger judges: ``mfgstudy.report.mfg.proposition6_table``)."""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from mfgstudy.analysis import proposition6_exact as p6
from mfgstudy.analysis.mfg_equilibrium import gaussian_law
from mfgstudy.data import load_data
from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)

VARIABLES = ("violation", "hjb_rms", "fp_rms", "terminal_rms", "dist")


def step_sizes(spec: dict, mu_min: float, mu_max: float) -> dict[str, float]:
    """alpha_0 per label: multiples of 1 / mu_max (the stability scale of the stiffest mode) and
    of 1 / mu_min (what a rate K^(-alpha_0 mu_min) of order 1 needs)."""
    out = {f"{c:g}/mu_max": c / mu_max for c in spec["alpha0"].get("per_mu_max", [])}
    out |= {f"{c:g}/mu_min": c / mu_min for c in spec["alpha0"].get("per_mu_min", [])}
    return out


def exact_job(spec: dict, data_path: str, out: str) -> None:
    """Every alpha_0 of ``spec`` for ``outer_iters`` iterations on the data set's Gaussian law."""
    t0 = time.time()
    mean, cov = gaussian_law(load_data(open_store(data_path)).law)
    case = p6.spec_from_config({"sde": spec["sde"], "methods": {"m": spec["method_spec"]}}, "m")
    curv = p6.curvature(case, mean, cov)
    alphas = step_sizes(spec, curv["mu_min"], curv["mu_max"])
    K = int(spec["outer_iters"])
    rec = {v: np.full((len(alphas), K), np.nan) for v in VARIABLES}
    diverged = np.zeros(len(alphas), int)
    for i, (label, a0) in enumerate(alphas.items()):
        r = p6.iterate(case, mean, cov, a0, K)
        rec["violation"][i] = np.sqrt(r["hjb_rms"] ** 2 + r["terminal_rms"] ** 2 + r["fp_rms"] ** 2)
        for v in VARIABLES[1:]:
            rec[v][i] = r[v]
        diverged[i] = int(r["diverged_at"])
        log.info("alpha_0 = %s = %.3g: violation %.3g at k = 1, %.3g at k = %d%s (%.1fs)", label,
                 a0, rec["violation"][i, 0], rec["violation"][i, -1], K,
                 f"; diverged at k = {diverged[i]}" if diverged[i] else "",
                 float(r["wall_s"]))  # fmt: skip
    ds = xr.Dataset(
        {**{v: (("alpha", "k"), x) for v, x in rec.items()},
         "alpha0": (("alpha",), np.array(list(alphas.values()))),
         "diverged_at": (("alpha",), diverged)},
        coords={"alpha": list(alphas), "k": np.arange(1, K + 1)},
    )  # fmt: skip
    attrs = {"dataset": spec["dataset"], "method": spec["method"], "mu_min": curv["mu_min"],
             "mu_max": curv["mu_max"], "fixed_point_gap": p6.continuous_gap(case, mean, cov),
             "violation": "sqrt(hjb_rms^2 + terminal_rms^2 + fp_rms^2): the left-hand side of "
                          "the HJB-FP equilibrium condition, exact"}  # fmt: skip
    write_store(ds, out, spec, None, t0, attrs)
