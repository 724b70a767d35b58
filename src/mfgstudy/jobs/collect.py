"""Gather every per-unit metric store into the metrics cube, ``results/metrics.zarr``: one
group per sweep (``store.open_groups``), each a dense xarray cube over that sweep's own values.

Dims: dataset, method, seed, sampler, grid, steps, and for a sweep with perturbations
perturbation and eps (the unperturbed eps = 0 run stands at eps = 0 of every kind: each kind
reduces to it there); ``w2_floor_mean``/``_sd`` and ``fd_digits_floor`` over dataset. A
variable is NaN where it does not apply (no closed form for a
learned score, no W2 on images). Tables and figures read only this store. (One cube over all
sweeps would be the product of every sweep's values: mostly empty, and large.)

Note: ``method`` is also a keyword of ``xarray .sel``; select it with a dict,
``cube.sel({"method": "ddpm"})``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
import xarray as xr

from mfgstudy.layout import UNPERTURBED, store_name, value_dir
from mfgstudy.store import open_store, write_groups

log = logging.getLogger(__name__)
DIMS = ["sweep", "dataset", "method", "seed", "sampler", "grid", "steps", "perturbation", "eps"]
CUBE_DIMS = DIMS[1:]
PERTURBATION_DIMS = ["perturbation", "eps"]


def _rows(metric_dirs: list[str]):
    for d in metric_dirs:
        stores = sorted(Path(d).glob(f"{value_dir('*')}/{store_name('*', '*')}"))
        if not stores:
            raise FileNotFoundError(f"no metric stores in {d}")
        for p in stores:
            ds = open_store(p)
            row = {k: ds.attrs[k] for k in DIMS}
            row["store"] = str(p)
            row.update({k: float(v.values) for k, v in ds.data_vars.items()})
            yield row


def build_cubes(metric_dirs: list[str], floor_paths: list[str]) -> dict[str, xr.Dataset]:
    df = pd.DataFrame(list(_rows(metric_dirs)))
    df["seed"] = df["seed"].astype(int)
    df["steps"] = df["steps"].astype(int)
    df["eps"] = df["eps"].astype(float)
    dup = df[df.duplicated(DIMS, keep=False)].sort_values(DIMS)
    if len(dup):
        first = dup.iloc[0]
        same = dup[(dup[DIMS] == first[DIMS]).all(axis=1)]["store"].tolist()
        raise ValueError(
            f"{len(dup)} metric stores measure the same cell of the cube "
            f"({', '.join(f'{k}={first[k]}' for k in DIMS)}): {', '.join(same)}; two units of "
            "the config map to one value (e.g. two eps that print alike): make them distinct"
        )
    df = df.drop(columns="store")
    floors: dict[str, list[xr.Dataset]] = {}
    for p in floor_paths:
        ds = open_store(p)
        f = xr.Dataset({k: v for k, v in ds.data_vars.items()})
        if "w2_floor" in f:
            f["w2_floor_mean"] = f["w2_floor"].mean("pair")
            f["w2_floor_sd"] = f["w2_floor"].std("pair", ddof=1)
            f = f.drop_vars("w2_floor")
        floors.setdefault(ds.attrs["sweep"], []).append(
            f.expand_dims(dataset=[ds.attrs["dataset"]])
        )
    cubes = {}
    for sweep, rows in df.groupby("sweep"):
        rows = rows.drop(columns="sweep").dropna(axis=1, how="all")
        dims = CUBE_DIMS
        kinds = sorted(set(rows["perturbation"]) - {UNPERTURBED})
        if not kinds:  # an unperturbed sweep: no perturbation dims
            rows, dims = rows.drop(columns=PERTURBATION_DIMS), DIMS[1:-2]
        else:  # eps = 0 of every kind is the one unperturbed run
            clean = rows[rows["perturbation"] == UNPERTURBED]
            rows = pd.concat([rows[rows["perturbation"] != UNPERTURBED]]
                             + [clean.assign(perturbation=k) for k in kinds])  # fmt: skip
        cube = rows.set_index(dims).to_xarray()
        cube = xr.merge([cube, *floors.get(sweep, [])], join="outer", compat="no_conflicts")
        cubes[str(sweep)] = cube.assign_attrs(sweep=str(sweep))
    return cubes


def collect(metric_dirs: list[str], out: str, floor_paths: list[str] = ()) -> None:
    t0 = time.time()
    cubes = build_cubes(metric_dirs, floor_paths)
    spec = {"metric_dirs": sorted(metric_dirs), "floors": sorted(floor_paths)}
    write_groups(cubes, out, spec, t0, {"dims": ",".join(CUBE_DIMS)})  # per group: its own
    for sweep, cube in cubes.items():
        log.info("cube %s/%s: %s", out, sweep, dict(cube.sizes))
