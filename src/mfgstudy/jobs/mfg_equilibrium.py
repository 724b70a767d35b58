"""The closed-form MFG equilibrium job: the Gaussian law of a data set in; every reading's
equilibrium, output law and W2 (``mfgstudy.analysis.mfg_equilibrium``) out, as one store."""

from __future__ import annotations

import time

import pandas as pd
import xarray as xr

from mfgstudy.analysis.mfg_equilibrium import BLOWUP, DIVERGED, equilibrium_rows, gaussian_law
from mfgstudy.data import load_data
from mfgstudy.store import open_store, write_store


def equilibrium_job(spec: dict, data_path: str, out: str) -> None:
    """The closed-form equilibrium of every reading on the Gaussian data set of ``spec``,
    stored as a table (``rows``: reading x sampler x steps) and curves (correction against t)."""
    t0 = time.time()
    mean, cov = gaussian_law(load_data(open_store(data_path)).law)
    rows, curves = equilibrium_rows(spec, mean, cov)
    dims = ["value_target", "weighting", "lambda"]
    table = pd.DataFrame(rows).set_index([*dims, "sampler", "steps"]).to_xarray()
    curve = pd.DataFrame(curves).set_index([*dims, "t"]).to_xarray()
    ds = xr.merge([table, curve.rename({"correction": "correction_curve"})])
    for v in ("exists", "finite_output"):
        ds[v] = ds[v].astype(bool)
    write_store(ds, out, spec, None, t0, {"dataset": spec["dataset"], "blowup": BLOWUP,
                                         "diverged": DIVERGED})  # fmt: skip
