"""Values the config's JSON schema admits but no job can use, refused before any job with the key
named and the fix: numbers that are not finite (YAML's ``.nan`` and ``.inf`` pass every bound of
a schema, since comparisons with NaN are false), a stopping time outside (0, T), point sets larger
than their job's memory, and sample counts the reference split cannot match.

The planner (``mfgstudy.pipeline.validation.check_config``) calls :func:`check_values` after the
schema; it raises ``ConfigError``.
"""

from __future__ import annotations

import math

from mfgstudy.errors import ConfigError

# the point laws built by mfgstudy.data (their sets are float64 arrays of n x d)
POINT_KINDS = frozenset({"gaussian", "gaussian_mixture", "checkerboard", "dirac"})
# bytes per stored coordinate a job may hold at once: float64, with room for its working copies
# (a data set is drawn, shuffled and written; a sample set is integrated, then evaluated)
BYTES_PER_VALUE = 8 * 4


def job_setting(config: dict, family: str, dataset: str, key: str, default=None) -> int:
    """One resource of a rule family's job on a data set (its ``by_dataset`` entry wins)."""
    spec = config["resources"][family]
    value = spec.get("by_dataset", {}).get(dataset, {}).get(key, spec.get(key, default))
    return int(value)


def check_values(config: dict) -> None:
    """Every number finite; 0 < t_min < T wherever a forward process is given; point sets and
    sample sets within their jobs' memory; 2 x n_samples <= n_test for the points sweeps (the W2
    floor compares two disjoint blocks of n_samples test points)."""
    _check_finite(config, "")
    _check_stopping_times(config, "")
    _check_point_sets(config)
    _check_sample_sets(config)


def _check_finite(obj, where: str) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ConfigError(
            f"{where}: {obj} is not a finite number; every number of the config "
            "must be finite (no setting gives infinity or NaN a meaning)"
        )


def _check_stopping_times(obj, where: str) -> None:
    if isinstance(obj, dict):
        if "t_min" in obj and "T" in obj:
            t_min, t_end = obj["t_min"], obj["T"]
            if (
                isinstance(t_min, int | float)
                and isinstance(t_end, int | float)
                and not (0 < t_min < t_end)
            ):
                raise ConfigError(f"{where or 'sde'}: t_min = {t_min:g} and T = {t_end:g}; the "
                                  "sampler integrates from T down to t_min, so 0 < t_min < T is "
                                  "needed: lower t_min or raise T")  # fmt: skip
        for k, v in obj.items():
            _check_stopping_times(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_stopping_times(v, f"{where}[{i}]")


def _dimension(spec: dict) -> int:
    for key in ("mean", "point"):
        if isinstance(spec.get(key), list):
            return len(spec[key])
    return 2  # the mixtures and the checkerboard are planar


def _megabytes(n_values: float) -> float:
    return n_values * BYTES_PER_VALUE / 2**20


def _human(mb: float) -> str:
    for unit, size in (("TiB", 2**20), ("GiB", 2**10)):
        if mb >= size:
            return f"{mb / size:.3g} {unit}"
    return f"{mb:.3g} MiB"


def _check_point_sets(config: dict) -> None:
    for name, spec in config.get("datasets", {}).items():
        if spec.get("kind") not in POINT_KINDS:
            continue
        d = _dimension(spec)
        for key in ("n_train", "n_test"):
            n = spec.get(key)
            if not isinstance(n, int | float):
                continue
            limit = job_setting(config, "data", name, "mem_mb")
            need = _megabytes(float(n) * d)
            if need > limit:
                raise ConfigError(
                    f"datasets.{name}.{key}: {n:g} points of dimension {d} need about "
                    f"{_human(need)} in its data job, above the {limit} MB it may use "
                    f"(resources.data.mem_mb): lower {key} or raise the job's mem_mb"
                )


def _check_sample_sets(config: dict) -> None:
    datasets = config.get("datasets", {})
    for sname, sweep in config.get("sweeps", {}).items():
        n = sweep.get("n_samples")
        if not isinstance(n, int | float):
            continue
        for dname in sweep.get("datasets", []):
            spec = datasets.get(dname, {})
            if spec.get("kind") not in POINT_KINDS:
                continue
            limit = job_setting(config, "sample", dname, "mem_mb")
            need = _megabytes(float(n) * _dimension(spec))
            if need > limit:
                raise ConfigError(
                    f"sweeps.{sname}.n_samples: {n:g} samples of {dname} need about "
                    f"{_human(need)} in each sample job, above the {limit} MB it may use "
                    f"(resources.sample.mem_mb): lower n_samples or raise the job's mem_mb"
                )
            n_test = spec.get("n_test")
            if isinstance(n_test, int | float) and 2 * n > n_test:
                raise ConfigError(
                    f"sweeps.{sname}.n_samples: {n:g} samples of {dname}, but datasets.{dname}."
                    f"n_test is {n_test:g}: W2's floor compares two disjoint blocks of n_samples "
                    f"test points, so n_test >= 2 x n_samples = {2 * n:g}: raise n_test or lower "
                    "n_samples"
                )
