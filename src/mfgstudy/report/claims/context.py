"""Everything the measurements read, loaded once (the metrics cube, the rate and study tables,
the training logs, the injection stores)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mfgstudy.report.claims.inputs import INPUTS
from mfgstudy.report.claims.readings import Reading, mfg_readings
from mfgstudy.report.claims.verdicts import Settings
from mfgstudy.store import open_groups, open_store
from mfgstudy.verbs import option

log = logging.getLogger(__name__)


class Context:
    """Everything the measurements read, loaded once: each input of ``inputs.INPUTS`` by its
    loader (``LOADERS``; a table otherwise), an absent optional one as empty."""

    def __init__(self, inputs: dict, spec: dict, settings: Settings):
        unknown = set(inputs) - set(INPUTS)
        if unknown:
            raise ValueError(f"the ledger reads no input named {sorted(unknown)}")
        for name, entry in INPUTS.items():
            value = inputs.get(name)
            if not entry.optional and not value:
                raise ValueError(f"the ledger needs its input {name!r} ({option(name)})")
            load = LOADERS.get(name, read_csv)
            setattr(self, ATTRIBUTES.get(name, name), load(value or None))
        self.mfg_readings = mfg_readings(spec.get("mfg_methods", {}))
        self.reading: Reading | None = None  # the claims file's reading rule, applied
        self.studies = spec.get("studies", {})  # companion studies: {study: sweep, t_stop, ...}
        self.moderate_eps = spec.get("moderate_eps")
        self.eps_fit_max = spec.get("eps_fit_max", 0.1)
        self.rates = spec.get("rates", {})
        self.settings = settings  # the claims file's (set per file by ``claims_job``)


def train_logs(paths) -> dict[tuple, list]:
    """MFG-Diffusion's training logs by (dataset, method)."""
    out: dict[tuple, list] = {}
    for p in paths or ():
        parts = Path(p).parts  # results/models/{dataset}/{method}/seed{seed}/train_log.zarr
        out.setdefault((parts[-4], parts[-3]), []).append(open_store(p))
    return out


def injection_stores(paths) -> dict[str, list]:
    """The injection analog's stores by method."""
    out: dict[str, list] = {}
    for p in paths or ():
        ds = open_store(p)
        out.setdefault(ds.attrs["method"], []).append(ds)
    return out


def read_csv(path: str | None) -> pd.DataFrame:
    """A table; empty where the file is empty or its study is not run (no path)."""
    if path is None:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


LOADERS = {"cube": open_groups, "train_logs": train_logs, "injection": injection_stores}
ATTRIBUTES = {"cube": "cubes"}  # the context's name where it differs from the input's
