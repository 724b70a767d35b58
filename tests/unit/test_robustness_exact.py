"""Theorem 4 at the equilibrium: the exact score's responses to score perturbations."""

from __future__ import annotations

import numpy as np
import pytest

from mfgstudy.analysis.robustness_exact import responses
from mfgstudy.jobs.robustness_exact import robustness_job
from mfgstudy.report.robustness import exact_exponents
from mfgstudy.store import open_store

SPEC = {
    "law_name": "overlapping",
    "law": {"weights": [0.5, 0.5], "means": [[-0.5, 0.0], [0.5, 0.0]], "std": 0.6},
    "modes": "overlapping",
    "perturbation_name": "constant",
    "perturbation": {"kind": "constant", "seed": 0},
    "sde": {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3},
    "sampler": {"kind": "euler_maruyama"},
    "grid": {"kind": "uniform"},
    "steps": 16,
    "eps": [0.001, 0.01, 0.1, 1.0],
    "seeds": [0, 1],
    "n_samples": 400,
    "n_adversarial": 100,
    "n_check": 200,
    "blocks": 5,
}
REPORT = {"floor_factor": 2.0, "eps_fit_max": 0.1,
          "rates": {"tail": 3, "regime_tol": 0.1, "min_seeds": 2}}  # fmt: skip


def test_coupled_bounds_moments_from_above():
    """Any coupling's RMS displacement >= W2 >= the Bures distance of the moments (Gelbrich),
    for the empirical measures themselves: an identity, not a statistical statement."""
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(300, 2))
    for shift in (0.0, 0.01, 0.3):
        moved = clean + shift + 0.05 * rng.normal(size=clean.shape)
        r = responses(moved, clean, None, blocks=5)
        assert r["coupled"] >= r["moments"] - 1e-12


def test_a_smooth_law_responds_linearly_and_the_table_says_so(tmp_path):
    out = tmp_path / "r.zarr"
    robustness_job(SPEC, str(out))
    ds = open_store(out)
    assert set(ds["coupled"].dims) == {"seed", "eps"} and "law" not in ds
    assert list(ds["check_coupled"]["check_steps"].values) == [16, 32]
    assert (ds["coupled"] >= ds["moments"] - 1e-12).all()
    df = exact_exponents([str(out)], REPORT)
    coupled = df[df.estimator == "coupled"].iloc[0]
    assert coupled.bound == "upper" and coupled.eps_fitted == "0.001-0.1"
    assert coupled.exponent == pytest.approx(1.0, abs=0.05)  # a constant drift: linear response
    assert coupled.check_max_rel_change_2n < 0.1


def test_separated_modes_get_the_law_level_estimate(tmp_path):
    law = {"weights": [0.7, 0.3], "means": [[-2.0, 0.0], [2.0, 0.0]], "std": 0.3}
    spec = {**SPEC, "law_name": "separated", "modes": "separated", "eps": [0.01, 0.1], "law": law}
    out = tmp_path / "s.zarr"
    robustness_job(spec, str(out))
    ds = open_store(out)
    assert "law" in ds and "law_se" in ds and np.isfinite(ds["law"].values).all()
