"""A diverged model is a recorded result: infinite W2 and the share of non-finite samples."""

import time

import numpy as np
import pytest
import xarray as xr

from mfgstudy.data import build_dataset
from mfgstudy.jobs.evaluate import evaluate_unit
from mfgstudy.layout import UNPERTURBED, store_name
from mfgstudy.store import open_store, write_store

UNIT = {"sweep": "s", "dataset": "g", "method": "m", "sampler": "x", "grid": "u"}


def test_non_finite_samples_give_infinite_w2_not_a_crash(tmp_path):
    spec_data = dict(
        kind="gaussian", mean=[0, 0], cov=[[1, 0], [0, 1]], n_train=50, n_test=100, seed=0
    )
    write_store(build_dataset(spec_data), tmp_path / "data.zarr", spec_data, 0, time.time())
    rng = np.random.default_rng(0)
    samples = tmp_path / "samples"
    for n, bad in ((2, 10), (8, 0)):
        x = rng.normal(size=(50, 2))
        x[:bad] = np.inf
        finite = np.isfinite(x).all(1)
        ds = xr.Dataset({"x": (("sample", "dim"), x), "finite": (("sample",), finite)})
        write_store(ds, samples / store_name(UNPERTURBED, n), {}, 0, time.time())
    spec = {"unit": UNIT, "method": {"kind": "ddpm"}, "steps": [2], "reference_steps": 8,
            "perturbations": {UNPERTURBED: {"kind": "none"}}, "eps": 0.0}  # fmt: skip
    evaluate_unit(spec, 0, tmp_path / "data.zarr", samples, tmp_path / "metrics")
    m = open_store(tmp_path / "metrics" / store_name(UNPERTURBED, 2))
    assert float(m["nonfinite_fraction"]) == pytest.approx(0.2)
    assert np.isinf(float(m["w2_uncoupled"])) and np.isinf(float(m["w2_coupled"]))
