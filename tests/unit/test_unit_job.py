"""The unit job (mfgstudy.jobs.unit): one process samples and evaluates every eps of a unit; when it
reruns with one more eps, only that value is computed, and a changed input file or value spec is
never answered from the cache."""

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from mfgstudy.data import prepare
from mfgstudy.jobs.unit import unit_job
from mfgstudy.layout import store_name, value_dir
from mfgstudy.pipeline import specs_units
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.store import open_store

SMOKE = Path(__file__).resolve().parents[2] / "workflow/configs/smoke.yaml"
WC = dict(sweep="robustness_2d", dataset="gmm8", method="exact", seed=0, sampler="em",
          grid="uniform")  # fmt: skip


@pytest.fixture
def setting(tmp_path):
    config = resolve(SMOKE)
    config["sweeps"]["robustness_2d"]["steps"] = [4]
    config["sweeps"]["robustness_2d"]["n_samples"] = 64
    data = tmp_path / "gmm8.zarr"
    prepare(specs_units.data_spec(config, "gmm8"), str(data))
    return config, data


def _run(config, data, tmp_path, run, eps, caplog, seed=0):
    config["sweeps"]["robustness_2d"]["eps"] = eps
    spec = specs_units.unit_spec(config, WC)
    out = tmp_path / f"run{run}"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mfgstudy.jobs.unit"):
        unit_job(spec, seed, str(data), str(out / "samples"), str(out / "metrics"),
                 str(tmp_path / "cache"))  # fmt: skip
    done = [r.getMessage() for r in caplog.records if "computed" in r.getMessage()]
    return out, done[-1]


def _w2(out, eps, kind):
    return float(open_store(out / "metrics" / value_dir(eps) / store_name(kind, 4))["w2_to_clean"])


def test_adding_an_eps_computes_only_it(setting, tmp_path, caplog):
    config, data = setting
    first, said = _run(config, data, tmp_path, 1, [0.1], caplog)
    assert "computed 0, 0.1," in said
    second, said = _run(config, data, tmp_path, 2, [0.1, 0.2], caplog)
    assert "computed 0.2," in said  # eps 0 and 0.1 from the cache
    assert sorted(p.name for p in (second / "metrics").iterdir()) == ["eps0", "eps0.1", "eps0.2"]
    assert _w2(second, "0.1", "state") == _w2(first, "0.1", "state")
    a = first / "samples" / "eps0.1" / "state" / "N4.zarr"
    b = second / "samples" / "eps0.1" / "state" / "N4.zarr"
    files = [p.relative_to(a) for p in a.rglob("*") if p.is_file()]
    # the same cache entry, copied: equal bytes, never shared inodes (issue 24)
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert not any(os.path.samefile(a / f, b / f) for f in files)
    # the perturbed value is measured against the unperturbed samples of the same job
    assert np.isfinite(_w2(second, "0.2", "state")) and _w2(second, "0.2", "state") > 0


def test_a_changed_value_spec_input_or_seed_is_computed_afresh(setting, tmp_path, caplog):
    config, data = setting
    _run(config, data, tmp_path, 1, [0.1], caplog)
    config["sweeps"]["robustness_2d"]["n_samples"] = 32  # every value's spec changes
    _, said = _run(config, data, tmp_path, 2, [0.1], caplog)
    assert "computed 0, 0.1," in said
    prepare({**specs_units.data_spec(config, "gmm8"), "seed": 7}, str(data))  # another data set
    _, said = _run(config, data, tmp_path, 3, [0.1], caplog)
    assert "computed 0, 0.1," in said
    _, said = _run(config, data, tmp_path, 4, [0.1], caplog, seed=1)  # another seed, same files
    assert "computed 0, 0.1," in said
