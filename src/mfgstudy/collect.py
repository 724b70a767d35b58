"""Gather every per-unit metric store into one xarray cube, ``results/metrics.zarr``.

Dims: sweep, dataset, method, seed, sampler, grid, steps (and ``pair`` for the W2 floor); a
variable is NaN where it does not apply (no closed form for a learned score, no W2 on images).
Tables and figures read only this cube.

Note: ``method`` is also a keyword of ``xarray .sel``; select it with a dict,
``cube.sel({"method": "ddpm"})``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import xarray as xr

from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)
DIMS = ["sweep", "dataset", "method", "seed", "sampler", "grid", "steps"]


def _rows(metric_dirs: list[str]):
    for d in metric_dirs:
        stores = sorted(Path(d).glob("N*.zarr"))
        if not stores:
            raise FileNotFoundError(f"no metric stores in {d}")
        for p in stores:
            ds = open_store(p)
            row = {k: ds.attrs[k] for k in DIMS}
            row.update({k: float(v.values) for k, v in ds.data_vars.items()})
            yield row


def build_cube(metric_dirs: list[str], floor_paths: list[str]) -> xr.Dataset:
    df = pd.DataFrame(list(_rows(metric_dirs)))
    df["seed"] = df["seed"].astype(int)
    df["steps"] = df["steps"].astype(int)
    if df.duplicated(DIMS).any():
        raise ValueError(
            f"duplicate metric rows for {df[df.duplicated(DIMS)][DIMS].to_dict('records')[:3]}"
        )
    cube = df.set_index(DIMS).to_xarray()
    floors = []
    for p in floor_paths:
        ds = open_store(p)
        f = xr.Dataset({k: v for k, v in ds.data_vars.items()})
        if "w2_floor" in f:
            f["w2_floor_mean"] = f["w2_floor"].mean("pair")
            f["w2_floor_sd"] = f["w2_floor"].std("pair", ddof=1)
            f = f.drop_vars("w2_floor")
        floors.append(f.expand_dims(sweep=[ds.attrs["sweep"]], dataset=[ds.attrs["dataset"]]))
    if floors:
        cube = xr.merge([cube, *floors], join="outer", compat="no_conflicts")
    return cube


def collect(metric_dirs: list[str], floor_paths: list[str], out: str) -> None:
    t0 = time.time()
    cube = build_cube(metric_dirs, floor_paths)
    spec = {"metric_dirs": sorted(metric_dirs), "floors": sorted(floor_paths)}
    write_store(cube, out, spec, None, t0, {"dims": ",".join(DIMS)})
    log.info("cube %s: %s", out, dict(cube.sizes))
