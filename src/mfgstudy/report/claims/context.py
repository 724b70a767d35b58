"""Everything the measurements read, loaded once (the metrics cube, the rate and study tables,
the training logs, the injection stores)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mfgstudy.report.claims.readings import Reading, mfg_readings
from mfgstudy.report.claims.verdicts import Settings
from mfgstudy.store import open_groups, open_store

log = logging.getLogger(__name__)


class Context:
    """Everything the measurements read, loaded once."""

    def __init__(self, cube_path, slopes_csv, exponents_csv, table2_csv, train_logs, injection,
                 spec, settings: Settings, exact_csv: str | None = None,
                 dirac_csv: str | None = None,
                 concentration_csv: str | None = None, mfg_equilibrium_csv: str | None = None,
                 cost_perturbation_csv: str | None = None,
                 proposition6_csv: str | None = None):  # fmt: skip
        self.cubes = open_groups(cube_path)
        self.proposition6 = read_csv(proposition6_csv) if proposition6_csv else pd.DataFrame()
        self.mfg_equilibrium = read_csv(mfg_equilibrium_csv) if mfg_equilibrium_csv \
            else pd.DataFrame()  # fmt: skip
        self.cost_perturbation = read_csv(cost_perturbation_csv) if cost_perturbation_csv \
            else pd.DataFrame()  # fmt: skip
        self.mfg_readings = mfg_readings(spec.get("mfg_methods", {}))
        self.reading: Reading | None = None  # the claims file's reading rule, applied
        self.dirac = read_csv(dirac_csv) if dirac_csv else pd.DataFrame()
        self.concentration = read_csv(concentration_csv) if concentration_csv else pd.DataFrame()
        self.studies = spec.get("studies", {})  # companion studies: {study: sweep, t_stop, ...}
        self.slopes = read_csv(slopes_csv)
        self.exponents = read_csv(exponents_csv)
        self.exact = read_csv(exact_csv) if exact_csv else pd.DataFrame()
        self.table2 = read_csv(table2_csv)
        self.train_logs: dict[tuple, list] = {}
        for p in train_logs:
            parts = Path(p).parts  # results/models/{dataset}/{method}/seed{seed}/train_log.zarr
            self.train_logs.setdefault((parts[-4], parts[-3]), []).append(open_store(p))
        self.injection: dict[str, list] = {}
        for p in injection:
            ds = open_store(p)
            self.injection.setdefault(ds.attrs["method"], []).append(ds)
        self.moderate_eps = spec.get("moderate_eps")
        self.eps_fit_max = spec.get("eps_fit_max", 0.1)
        self.rates = spec.get("rates", {})
        self.settings = settings  # the claims file's (set per file by ``claims_job``)


def read_csv(path: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
