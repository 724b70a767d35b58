"""Results are data: zarr stores with provenance, written atomically.

Every store is written to a temporary sibling path and renamed into place only once complete,
with ``attrs["complete"] = True`` set as the last attribute. A job killed half-way leaves at most
a ``*.tmp-<pid>`` directory, never a store at the final path; :func:`open_store` refuses a store
that lacks the completion mark.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from mfgstudy import __version__

# zarr 3: keep metadata unconsolidated (consolidation warns or fails with xarray on zarr v3).
_ZARR_KW = {"consolidated": False}


class IncompleteStoreError(RuntimeError):
    """A store exists but was never marked complete (a killed or failed job)."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def config_hash(spec: Mapping[str, Any]) -> str:
    """Short, stable hash of the parameters that produced a result."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(spec: Mapping[str, Any], seed: int | None, started: float) -> dict[str, Any]:
    """The attributes every store carries."""
    return {
        "config_hash": config_hash(spec),
        "spec": canonical_json(spec),
        "package": "mfgstudy",
        "package_version": __version__,
        "torch_version": torch.__version__,
        "git_commit": git_commit(),
        "seed": -1 if seed is None else int(seed),
        "wall_time_s": round(time.time() - started, 3),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(final)
    os.replace(tmp, final)


def _remove(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def write_store(
    ds: xr.Dataset,
    path: str | os.PathLike,
    spec: Mapping[str, Any],
    seed: int | None,
    started: float,
    extra_attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write ``ds`` to ``path`` atomically with provenance attrs and the completion mark."""
    ds = ds.copy()
    ds.attrs = {**ds.attrs, **provenance(spec, seed, started), **dict(extra_attrs or {})}
    ds.attrs["complete"] = True
    with atomic_path(path) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=3, **_ZARR_KW)


def write_groups(
    groups: Mapping[str, xr.Dataset],
    path: str | os.PathLike,
    spec: Mapping[str, Any],
    started: float,
    extra_attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write several datasets as groups of one store, atomically; provenance, the group names
    and the completion mark live on the root."""
    attrs = {**provenance(spec, None, started), **dict(extra_attrs or {})}
    attrs.update(groups=sorted(groups), complete=True)
    with atomic_path(path) as tmp:
        xr.Dataset(attrs=attrs).to_zarr(tmp, mode="w", zarr_format=3, **_ZARR_KW)
        for name, ds in groups.items():
            ds.to_zarr(tmp, group=name, mode="w", zarr_format=3, **_ZARR_KW)


def open_groups(path: str | os.PathLike) -> dict[str, xr.Dataset]:
    """The groups of a store written by :func:`write_groups`, loaded, by name."""
    root = open_store(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
        return {
            g: xr.open_zarr(Path(path), group=g, **_ZARR_KW).load() for g in root.attrs["groups"]
        }


def open_store(path: str | os.PathLike, load: bool = True) -> xr.Dataset:
    """Open a store written by :func:`write_store`; refuse incomplete ones."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no store at {p}")
    with warnings.catch_warnings():
        # Snakemake drops a .snakemake_timestamp file into directory outputs; zarr notes it.
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
        ds = xr.open_zarr(p, **_ZARR_KW)
    if not ds.attrs.get("complete", False):
        raise IncompleteStoreError(f"{p} was never marked complete; rerun the job that writes it")
    return ds.load() if load else ds


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """Atomic ``torch.save``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_torch(path: str | os.PathLike) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)
