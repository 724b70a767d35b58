"""One real end-to-end run of the smoke config: Figure 1, the slope table and the cube exist and
hold finite numbers; a second run has nothing to do."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mfgstudy.store import open_groups, open_store
from tests.workflow.helpers import job_count, snakemake


@pytest.mark.slow
def test_outputs_hold_finite_numbers(smoke_run):
    r = smoke_run / "results"
    for f in ("figures/fig1_w2_vs_N.png", "figures/fig1_w2_vs_N.pdf"):
        assert (r / f).stat().st_size > 10_000
    slopes = pd.read_csv(r / "tables/w2_slopes.csv")
    assert np.isfinite(slopes["tail_slope"]).sum() >= 6
    conv = slopes[slopes.sweep == "convergence_gaussian"]
    assert len(conv) == 6 and set(conv.regime) <= {"passed", "failed"}
    assert conv["local_slopes"].str.contains(":").all()
    assert (r / "tables/w2_slopes.md").read_text().count("|") > 50
    t1 = pd.read_csv(r / "tables/table1_images.csv")
    generated, real = t1[t1.seeds > 0], t1[t1.seeds == 0]
    for m in ("fd_digits", "is_digits", "precision_digits", "recall_digits", "coverage_digits"):
        assert np.isfinite(generated[f"{m}_mean"]).all() and np.isfinite(real[f"{m}_mean"]).all()
    assert "\\begin{tabular}" in (r / "tables/table1_images.tex").read_text()
    ddim = t1[t1.label == "DDIM (DDPM model)"]  # the DDPM model under the DDIM sampler
    assert len(ddim) == 1 and ddim.method.item() == "ddpm" and ddim.sampler.item() == "ddim"
    assert "DDIM (DDPM model)" in (r / "tables/table1_images.md").read_text()
    eq = pd.read_csv(r / "tables/mfg_equilibrium_gaussian.csv")
    assert set(eq.value_target) == {"hjb_residual", "derived", "algorithm1", "off"}
    printed = eq[(eq.value_target == "hjb_residual") & (eq["lambda"] == 1.0)]
    assert len(printed) and not printed.exists.any()  # eq. 24 blows up at lambda = 1
    assert eq[eq.value_target.isin(["derived", "off"])].exists.all()
    assert (r / "figures/fig_mfg_equilibrium_gaussian.png").stat().st_size > 10_000
    readings = pd.read_csv(r / "tables/mfg_readings.csv")
    assert {"ddpm", "mfg_value_off"} <= set(readings.method)
    t2 = pd.read_csv(r / "tables/table2_perturbed_images.csv")
    assert set(t2.method) == {"ddpm", "flow_matching", "mfg"} and set(t2.eps) == {0.0, 0.1}
    assert np.isfinite(t2["mean"]).all()
    exps = pd.read_csv(r / "tables/robustness_eps_exponents.csv")
    assert {"constant", "state", "state_score", "adversarial"} <= set(exps.perturbation)
    coupled = exps[exps.estimator == "coupled"]  # one eps at this scale: no tail, and it says so
    assert coupled["note"].str.contains("usable points").all()
    assert np.isfinite(coupled["clean_w2_to_data"]).all()
    for f in ("fig_robustness_eps.png", "fig_injection_analog.png"):
        assert (r / "figures" / f).stat().st_size > 10_000
    inj = open_store(r / "injection/digits/mfg/seed0.zarr")
    assert list(inj.eps.values) == [0.0, 0.5] and "ANALOG" in inj.attrs["description"]
    doc = json.loads((r / "claims.json").read_text())
    ledger = doc["claims"]
    assert {c["verdict"] for c in ledger} <= set(doc["vocabulary"]) and len(ledger) >= 14
    for c in ledger:
        assert {"id", "verdict", "n_seeds", "regime", "fidelity", "conditions"} <= set(c)
    t2 = next(c for c in ledger if c["id"] == "theorem2_rate_gaussian")
    assert t2["regime"] and all("local_slopes" in g for g in t2["regime"])
    assert "## Summary" in (r / "claims.md").read_text()
    root = open_store(r / "metrics.zarr")
    assert root.attrs["complete"] and root.attrs["config_hash"]
    cubes = open_groups(r / "metrics.zarr")
    assert set(cubes) == set(root.attrs["groups"]) and len(cubes) >= 3
    for cube in cubes.values():
        assert {"dataset", "method", "seed", "sampler", "grid", "steps"} <= set(cube.dims)
    for var in (
        "w2_uncoupled",
        "w2_coupled",
        "w2_closed",
        "fd_digits",
        "w2_floor_mean",
        "fd_digits_floor",
        "fd_digits_floor_sd",  # the metric's own spread: bootstrap resamples of the test split
    ):
        assert any(np.isfinite(c[var].values).any() for c in cubes.values() if var in c), var
    hjb = pd.read_csv(r / "tables/hjb_checkerboard.csv")
    assert list(hjb.method) == ["hjb_plain", "hjb_terminal"]
    assert np.isfinite(hjb[["w2_uncoupled_mean", "in_support_mean", "w2_floor"]].values).all()
    assert (r / "figures/fig_hjb_checkerboard.png").stat().st_size > 10_000
    p6 = pd.read_csv(r / "tables/proposition6_exact.csv")  # Proposition 6 without a network
    assert len(p6) == 4 and (p6["diverged_at"] > 0).any() and p6["tail_slope"].notna().any()
    conc = pd.read_csv(r / "tables/concentration.csv")
    assert set(conc.method) == {"exact_ou", "exact_ou_empirical"}
    assert np.isfinite(conc.exponent).all()
    memo = pd.read_csv(r / "tables/memorisation.csv")
    exact_small_t = memo[(memo.method == "exact_empirical") & (memo.t_stop == 1e-3)]
    assert (exact_small_t.memorised_fraction > 0.9).all()  # the exact score reproduces its data
    dirac = pd.read_csv(r / "tables/dirac_theorem2.csv")
    assert (dirac[dirac.sampler == "ei"].w2_to_theorem2 < 1e-6).all()
    assert (dirac[dirac.sampler == "em"].w2_to_theorem2 > 1e-3).all()
    mfg_log = open_store(r / "models/gmm8/mfg/seed0/train_log.zarr")
    for var in (
        "hjb_residual_rms",
        "score_gap_rms",
        "fp_loss",
        "hjb_loss",
        "hjb_residual_exact_rms",
        "fp_residual_exact_rms",
        "score_error_exact_se",
    ):
        assert np.isfinite(mfg_log[var].values).all(), var
    exact = pd.read_csv(r / "tables/robustness_exact_exponents.csv")
    assert set(exact.estimator) == {"coupled", "moments", "law", "transfer"}


@pytest.mark.slow
def test_every_store_carries_provenance(smoke_run):
    stores = list((smoke_run / "results").rglob("N*.zarr")) + list(
        (smoke_run / "results/data").glob("*.zarr")
    )
    assert stores
    for p in stores[:20]:
        attrs = open_store(p, load=False).attrs
        assert {"config_hash", "package_version", "seed", "wall_time_s"} <= set(attrs)


@pytest.mark.slow
def test_noop_rerun_runs_nothing(smoke_run):
    res = snakemake(smoke_run, "-n")
    assert res.returncode == 0
    assert job_count(res.stdout + res.stderr) == 0, res.stdout[-2000:]


@pytest.mark.slow
def test_same_config_gives_the_same_numbers(smoke_run):
    """Rerunning one unit job from scratch (its cached values deleted) reproduces its samples
    bit for bit."""
    unit = "results/samples/w2_learned/gmm8/ddpm/seed1/ddim/uniform"
    before = open_store(smoke_run / unit / "eps0/none/N4.zarr")["x"].values
    shutil.rmtree(smoke_run / "results/cache")
    res = snakemake(smoke_run, "--cores", "1", "--forcerun", unit, "--", unit)
    assert res.returncode == 0, res.stderr[-3000:]
    log = smoke_run / "results/logs/unit" / (unit.removeprefix("results/samples/") + ".log")
    assert "computed 0," in log.read_text()  # not from the cache
    after = open_store(smoke_run / unit / "eps0/none/N4.zarr")["x"].values
    np.testing.assert_array_equal(after, before)


@pytest.mark.slow
def test_html_report_holds_every_reported_output(smoke_run):
    res = snakemake(smoke_run, "--report", "results/report.html")
    assert res.returncode == 0, res.stderr[-3000:]
    html = (smoke_run / "results/report.html").read_text(errors="ignore")
    for name in ("claims.md", "table1_images.csv", "fig_robustness_eps.png",
                 "fig_injection_analog.png", "fig1_w2_vs_N.png"):  # fmt: skip
        assert name in html, name
