"""Atomic, provenance-carrying stores: a killed or failed write is never taken as complete."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr
import zarr

from mfgstudy.store import IncompleteStoreError, atomic_path, config_hash, open_store, write_store


def _ds():
    return xr.Dataset({"x": (("sample", "dim"), np.arange(6.0).reshape(3, 2))})


def test_roundtrip_carries_provenance(tmp_path):
    spec = {"a": 1, "b": [1, 2]}
    write_store(_ds(), tmp_path / "s.zarr", spec, seed=7, started=time.time())
    ds = open_store(tmp_path / "s.zarr")
    np.testing.assert_array_equal(ds["x"].values, _ds()["x"].values)
    for key in ("config_hash", "package_version", "git_commit", "seed", "wall_time_s", "complete"):
        assert key in ds.attrs
    assert ds.attrs["seed"] == 7 and ds.attrs["config_hash"] == config_hash(spec)
    assert config_hash({"b": [1, 2], "a": 1}) == config_hash(spec)  # key order does not matter


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "s.zarr"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        _ds().to_zarr(tmp, zarr_format=3, consolidated=False)
        raise RuntimeError("job died")
    assert not target.exists() and not list(tmp_path.iterdir())


def test_unmarked_store_is_refused(tmp_path):
    _ds().to_zarr(tmp_path / "s.zarr", zarr_format=3, consolidated=False)
    with pytest.raises(IncompleteStoreError, match="never marked complete"):
        open_store(tmp_path / "s.zarr")


def test_sigkilled_writer_leaves_no_store_at_the_final_path(tmp_path):
    target = tmp_path / "s.zarr"
    code = textwrap.dedent(f"""
        import time, numpy as np, xarray as xr
        from mfgstudy.store import atomic_path
        with atomic_path({str(target)!r}) as tmp:
            ds = xr.Dataset({{"x": (("i",), np.arange(5.0))}})
            ds.to_zarr(tmp, zarr_format=3, consolidated=False)
            print("written", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    leftovers = list(tmp_path.iterdir())
    assert len(leftovers) == 1 and ".tmp-" in leftovers[0].name
    zarr.open_group(leftovers[0], mode="r")  # the partial data is there, but not at the final path
    with pytest.raises(FileNotFoundError):
        open_store(target)
