"""The perturbed-cost job (Theorem 4 on its own statement): the Gaussian law of a data set in;
per reading of Algorithm 1, the equilibrium of every perturbed cost at every eps
(``mfgstudy.analysis.cost_perturbation``) out, as one store with dims (method, family, eps)."""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from mfgstudy.analysis.cost_perturbation import measure
from mfgstudy.analysis.mfg_equilibrium import gaussian_law, reading_of, solve
from mfgstudy.core.sde import VPSDE
from mfgstudy.data import load_data
from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)
VALUES = ("w2_sup", "w2_tmin", "t_sup", "w2_sup_check")


def cost_perturbation_job(spec: dict, data_path: str, out: str) -> None:
    """Every method (a reading of Algorithm 1) of ``spec["methods"]``: its equilibrium on the
    data set's Gaussian law and, where it exists, the response of every family at every eps.
    A reading without an equilibrium on [t_min, T] keeps its blow-up time and NaN responses."""
    t0 = time.time()
    mean, cov = gaussian_law(load_data(open_store(data_path)).law)
    sde = VPSDE.from_spec(spec["sde"])
    names, families, eps = list(spec["methods"]), list(spec["families"]), spec["eps"]
    values = {v: np.full((len(names), len(families), len(eps)), np.nan) for v in VALUES}
    per_method = {k: [] for k in ("value_target", "weighting", "lambda", "exists", "t_blowup",
                                  "direction_variance")}  # fmt: skip
    for i, name in enumerate(names):
        reading = reading_of(spec["methods"][name])
        eq = solve(sde, mean, cov, reading["value_target"], reading["weighting"],
                   reading["lambda"])  # fmt: skip
        variance = np.nan
        if eq.exists and reading["value_target"] in ("hjb_residual", "derived"):
            res = measure(spec, eq)
            for v in VALUES:
                values[v][i] = res[v]
            variance = res["variance"]
        else:
            log.info("%s (%s): %s", name, reading["value_target"],
                     "no HJB to perturb" if eq.exists else f"no equilibrium (blow-up at "
                     f"t = {eq.t_blowup:.4g})")  # fmt: skip
        for k in ("value_target", "weighting", "lambda"):
            per_method[k].append(reading[k])
        per_method["exists"].append(bool(eq.exists))
        per_method["t_blowup"].append(float(eq.t_blowup))
        per_method["direction_variance"].append(variance)
    dims = ("method", "family", "eps")
    ds = xr.Dataset(
        {v: (dims, a) for v, a in values.items()}
        | {k: (("method",), np.asarray(v)) for k, v in per_method.items()},
        coords={"method": names, "family": families, "eps": [float(e) for e in eps],
                "kind": ("family", [spec["families"][f]["kind"] for f in families])},
    )  # fmt: skip
    attrs = {"dataset": spec["dataset"], "direction": spec.get("direction", "largest")}
    write_store(ds, out, spec, None, t0, attrs)
