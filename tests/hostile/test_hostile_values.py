"""Issue 24: numbers that pass the schema but not the science are refused before any job, with
the key named (before: eps .nan was dropped silently; eps .inf, t_min > T, n_train 1e12 and
n_samples above the test split failed only when their job ran; lr .nan passed the dry run)."""

import math

import pytest
import yaml

from mfgstudy.errors import ConfigError
from mfgstudy.pipeline import validation
from mfgstudy.pipeline.config_files import resolve
from tests.workflow.helpers import SMOKE, snakemake


def _smoke() -> dict:
    return resolve(SMOKE)


def _points_sweep(cfg) -> tuple[str, str]:
    """A sweep of the smoke config on a point set, and that set."""
    for name, sweep in cfg["sweeps"].items():
        for d in sweep.get("datasets", []):
            if cfg["datasets"][d]["kind"] in ("gaussian", "gaussian_mixture", "checkerboard"):
                return name, d
    raise AssertionError("the smoke config has no points sweep")


def _eps_sweep(cfg) -> str:
    return next(n for n, s in cfg["sweeps"].items() if s.get("eps"))


def _set(cfg, keys, value):
    table = cfg
    for k in keys[:-1]:
        table = table[k]
    table[keys[-1]] = value


CASES = {
    "eps .nan": (lambda c: ("sweeps", _eps_sweep(c), "eps", 0), math.nan, "is not a finite number"),
    "eps .inf": (lambda c: ("sweeps", _eps_sweep(c), "eps", 0), math.inf, "is not a finite number"),
    "lr .nan": (lambda c: ("methods", "ddpm", "train", "points", "lr"), math.nan,
                "methods.ddpm.train.points.lr: nan is not a finite number"),
    "t_min > T": (lambda c: ("sde", "t_min"), 2.0, "sde: t_min = 2 and T = 1"),
    "t_min = 0": (lambda c: ("sde", "t_min"), 0.0, "0 < t_min < T is needed"),
    "n_train 1e12": (lambda c: ("datasets", _points_sweep(c)[1], "n_train"), 10**12,
                     "points of dimension 2 need about"),
    "n_samples 1e12": (lambda c: ("sweeps", _points_sweep(c)[0], "n_samples"), 10**12,
                       "(resources.sample.mem_mb)"),
    "n_samples above the split": (lambda c: ("sweeps", _points_sweep(c)[0], "n_samples"), 10**5,
                                  "so n_test >= 2 x n_samples"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_value_no_job_can_use_is_refused_naming_its_key(case):
    where, value, message = CASES[case]
    cfg = _smoke()
    _set(cfg, where(cfg), value)
    with pytest.raises(ConfigError) as err:
        validation.check_config(cfg)
    assert message in str(err.value), str(err.value)


def test_the_shipped_configs_pass():
    for path in ("config.yaml", SMOKE, "workflow/configs/laboratory.yaml"):
        from mfgstudy.pipeline.config_values import check_values

        check_values(resolve(path))


def test_a_nan_learning_rate_stops_the_dry_run_before_any_job(tmp_path):
    cfg = _smoke()
    cfg["methods"]["ddpm"]["train"]["points"]["lr"] = math.nan
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = snakemake(tmp_path, "-n", configfile=str(path))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "lr: nan is not a finite number" in out, out[-2000:]
    assert "Traceback" not in out
