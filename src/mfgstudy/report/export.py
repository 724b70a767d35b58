"""The metrics cube as one tidy table, for use outside the pipeline: one row per measured value,
every coordinate a column (``sweep``, ``variable``, the cube's dims, ``value``), as CSV and as
Parquet. A coordinate a sweep does not have (``eps`` in an unperturbed sweep, ``dataset`` of a
floor's own variables aside) is empty; a value the cube holds as NaN (not measured there) has
no row."""

from __future__ import annotations

import logging
import time

import pandas as pd

from mfgstudy.jobs.collect import DIMS
from mfgstudy.store import atomic_path, open_groups

log = logging.getLogger(__name__)
COLUMNS = ["sweep", "variable", *DIMS[1:], "value"]


def tidy(cubes: dict) -> pd.DataFrame:
    """One row per finite value of every variable of every sweep's cube."""
    frames = []
    for sweep, cube in cubes.items():
        for name, da in cube.data_vars.items():
            df = da.to_dataframe(name="value").reset_index()
            df = df[[*da.dims, "value"]].dropna(subset=["value"])
            frames.append(df.assign(sweep=sweep, variable=name))
    out = pd.concat(frames, ignore_index=True).reindex(columns=COLUMNS)
    for col in ("seed", "steps"):  # integers, empty where a sweep has no such coordinate
        out[col] = out[col].astype("Int64")
    return out


def export_job(cube_path: str, csv: str, parquet: str) -> None:
    t0 = time.time()
    df = tidy(open_groups(cube_path))
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(parquet) as tmp:
        df.to_parquet(tmp, index=False)
    log.info(
        "exported %d values of %d sweeps in %.1fs", len(df), df["sweep"].nunique(), time.time() - t0
    )
