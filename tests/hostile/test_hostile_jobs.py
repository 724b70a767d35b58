"""Issue 13, job cases: a one-seed perturbation sweep through the report, metric stores that
collide in the cube, code hashes from import closures (an edit of exact.py reruns MFG training),
a job that refuses to run other code than it was planned with, and logs that say why a job
died."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mfgstudy.jobs.collect import build_cubes, collect
from mfgstudy.layout import store_name
from mfgstudy.pipeline import commands, targets
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.store import write_store

SPEC = {"rates": {"tail": 3, "regime_tol": 0.25, "min_seeds": 5}, "eps_fit_max": 0.1,
        "floor_factor": 2.0}  # fmt: skip


def _metric_store(root, seeds, eps_values, sweep="rob", label=None):
    """Metric stores of a perturbation sweep as the unit job writes them (a folder per unit,
    eps<e>/<kind>/N<n>.zarr inside); W2 = eps."""
    dirs = []
    for seed in seeds:
        for eps in eps_values:
            kinds = ["none"] if eps == 0 else ["state"]
            unit = Path(root) / f"{sweep}/gmm8/ddpm/seed{seed}/em/uniform"
            for kind in kinds:
                attrs = dict(sweep=sweep, dataset="gmm8", method="ddpm", seed=seed,
                             sampler="em", grid="uniform", steps=64, perturbation=kind,
                             eps=float(eps))  # fmt: skip
                w2 = 0.3 * eps * (1 + 0.01 * seed)
                ds = xr.Dataset({"w2_to_clean_coupled": w2, "w2_to_clean": w2 + 0.01,
                                 "w2_uncoupled": 0.3}, attrs=attrs)  # fmt: skip
                store = unit / f"eps{label or eps}" / store_name(kind, 64)
                write_store(ds, store, {"t": 1}, seed, time.time())
            dirs.append(str(unit))
    return sorted(set(dirs))


def test_a_one_seed_perturbation_sweep_goes_through_the_report(tmp_path):
    from mfgstudy.report.claims.measures.robustness import _per_eps_ratios
    from mfgstudy.report.robustness import robustness_figure, robustness_table

    dirs = _metric_store(tmp_path / "m", seeds=[0], eps_values=[0, 0.01, 0.03, 0.1])
    cube = tmp_path / "metrics.zarr"
    collect(dirs, str(cube))
    t = tmp_path / "t"
    df = robustness_table(str(cube), SPEC, f"{t}.csv", f"{t}.md", f"{t}.tex")
    assert len(df) == 2, df  # coupled and uncoupled
    assert np.isclose(df.set_index("estimator").loc["coupled", "exponent"], 1.0), df
    robustness_figure(str(cube), SPEC, str(tmp_path / "f.png"), str(tmp_path / "f.pdf"))
    assert (tmp_path / "f.png").stat().st_size > 0
    from types import SimpleNamespace

    from mfgstudy.store import open_groups

    ctx = SimpleNamespace(cubes=open_groups(cube), eps_fit_max=0.1)
    assert np.allclose(_per_eps_ratios(ctx, "ddpm", "state"), [0.3])


def test_metric_stores_that_collide_are_named(tmp_path):
    """Two units whose folders differ but whose stores measure the same cell of the cube."""
    a = _metric_store(tmp_path / "a", seeds=[0], eps_values=[0, 0.5])
    b = _metric_store(tmp_path / "b", seeds=[0], eps_values=[0.5], label="0.5000001")
    with pytest.raises(ValueError, match="measure the same cell") as err:
        build_cubes(a + b, [])
    assert "eps=0.5" in str(err.value) and "eps0.5000001" in str(err.value)


# --- code hashes ------------------------------------------------------------------------------
def _package_copy(tmp_path):
    from mfgstudy import code_closure

    pkg = tmp_path / "mfgstudy"
    shutil.copytree(code_closure.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def _edit(path):
    with open(path, "a") as f:
        f.write("\n# an edit\n")


def test_the_code_hash_follows_imports_not_a_list(tmp_path):
    """Editing exact.py changes the training code hash (MFG-Diffusion's loop uses
    exact.kernel_mean); editing a report module changes no training, sampling or data hash."""
    from mfgstudy import code_closure
    from mfgstudy.verbs import VERBS

    pkg = _package_copy(tmp_path)
    before = {v: code_closure.code_hash(v, root=pkg) for v in VERBS}
    _edit(pkg / "core" / "exact.py")
    code_closure._hash.cache_clear()
    after = {v: code_closure.code_hash(v, root=pkg) for v in VERBS}
    assert before["train"] != after["train"] and before["sample"] != after["sample"]
    _edit(pkg / "report" / "pde.py")
    code_closure._hash.cache_clear()
    again = {v: code_closure.code_hash(v, root=pkg) for v in VERBS}
    changed = {v for v in VERBS if again[v] != after[v]}
    assert changed == {"dirac-table", "memorisation-table", "concentration"}, changed


def test_a_method_edit_reruns_only_that_methods_jobs(tmp_path):
    """The registry imports methods by kind, and each job's hash covers the methods its spec
    names: an edit of EDM changes EDM's training and sampling hashes, not DDPM's; an edit of
    the samplers changes MFG-Diffusion's training (its loop samples), not DDPM's training."""
    from mfgstudy import code_closure

    pkg = _package_copy(tmp_path)

    def hashes():
        code_closure._hash.cache_clear()
        jobs = [(v, k) for v in ("train", "unit", "injection") for k in ("ddpm", "edm", "mfg")]
        return {(v, k): code_closure.code_hash(v, {"method": {"kind": k}}, pkg) for v, k in jobs}

    before = hashes()
    _edit(pkg / "methods" / "edm.py")
    after = hashes()
    assert {k for k in before if before[k] != after[k]} == {
        ("train", "edm"), ("unit", "edm"), ("injection", "edm")}  # fmt: skip
    _edit(pkg / "core" / "samplers.py")
    again = hashes()
    changed = {k for k in after if after[k] != again[k]}
    assert ("train", "mfg") in changed and ("train", "ddpm") not in changed, changed
    assert code_closure.spec_modules({"method": {"kind": "mfg"}}, pkg) == (
        "methods.mfg", "training.algorithm1")  # fmt: skip


def test_a_job_that_imports_outside_its_hash_is_a_reported_bug():
    """check_imported: this test process has imported methods the collect job's code does not
    cover; a job that did so would fail naming them instead of recording stale results."""
    import mfgstudy.methods.edm  # noqa: F401
    from mfgstudy import code_closure

    with pytest.raises(RuntimeError, match=r"mfgstudy\.methods\.edm.*does not cover"):
        code_closure.check_imported("collect")


def test_the_closure_sees_lazy_imports_inside_functions():
    from mfgstudy import code_closure

    files = {p.name for p in code_closure.closure("methods.mfg")}
    assert {"exact.py", "samplers.py", "mfg.py"} <= files
    # the hash's own bookkeeping is nobody's science
    assert not {"code_closure.py", "verbs.py"} & {
        p.name for p in code_closure.closure("jobs.train")
    }


def test_the_workflow_passes_each_job_its_verbs_hash():
    import re

    from mfgstudy import code_closure

    for rules in Path("workflow/rules").glob("*.smk"):
        text = rules.read_text()
        for block in re.split(r"\n\s*rule ", text)[1:]:
            verbs = set(re.findall(r"-m mfgstudy ([\w-]+)", block))
            hashed = set(re.findall(r'code_hash\(\s*"([\w-]+)"', block))
            assert len(hashed) == 1 and {code_closure.VERBS[v][0] for v in verbs} == {
                code_closure.VERBS[v][0] for v in hashed
            }, (rules, block[:60])
            assert block.count("--code {params.code}") == len(re.findall("-m mfgstudy", block))


def _job(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mfgstudy", *args], capture_output=True,
                          text=True, timeout=120, **kw)  # fmt: skip


def test_a_job_refuses_other_code_than_it_was_planned_with(tmp_path):
    from mfgstudy import code_closure

    res = _job("collect", "--code", "0123456789abcdef", "--metric-dirs", str(tmp_path), "--out",
               str(tmp_path / "c.zarr"))  # fmt: skip
    assert res.returncode == 1
    assert "planned with code 0123456789abcdef" in res.stderr
    assert str(code_closure.PACKAGE_DIR) in res.stderr and "pip install -e" in res.stderr
    assert "Traceback" not in res.stderr
    assert "FAILED" in res.stdout  # also on Snakemake's output
    assert not (tmp_path / "c.zarr").exists()


def test_a_job_with_the_planned_code_runs(tmp_path):
    res = _job("collect", "--code", commands.code_hash("collect"), "--metric-dirs", str(tmp_path),
               "--out", str(tmp_path / "c.zarr"))  # fmt: skip
    assert "planned with code" not in res.stderr
    assert "no metric stores" in res.stderr  # got as far as the job itself


# --- logs that say why --------------------------------------------------------------------
def test_a_job_killed_outside_python_leaves_its_reason_in_the_log(tmp_path):
    """The out-of-memory killer's SIGKILL: Python cannot log it; the job's parent does."""
    log = tmp_path / "job.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mfgstudy", "collect", "--metric-dirs", "x",
                                 "--out", str(tmp_path / "c.zarr")], stderr=err,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        children = []
        for _ in range(100):
            task = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            children = task.read_text().split() if task.exists() else []
            if children:
                break
            time.sleep(0.02)
        assert children, "the job runs in a child process"
        os.kill(int(children[0]), signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGKILL
    assert "killed by SIGKILL" in log.read_text() and "out-of-memory" in log.read_text()
    assert "killed by SIGKILL" in out


def test_a_user_error_is_one_message_without_a_traceback(tmp_path):
    res = _job("collect", "--spec", "{not json", "--metric-dirs", "x", "--out", "y")
    # collect takes no spec: argparse names the option
    assert res.returncode == 2 and "--spec" in res.stderr
    res = _job("convergence-mixture", "--spec", "{not json", "--out", str(tmp_path / "o"))
    assert res.returncode == 1 and "--spec is not valid JSON" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_an_edit_of_exact_reruns_mfg_training_in_a_dry_run(smoke_run, tmp_path):
    """MFG-Diffusion's loop uses exact.kernel_mean (and samplers.EulerMaruyama): on the finished
    smoke run, a copy of the workflow whose exact.py differs by one comment reruns its training
    (a hand-kept list of the modules training runs had missed it)."""

    from tests.workflow.helpers import ROOT, SMOKE, jobs_by_rule, snakemake

    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "results", ".snakemake"))
    _edit(copy / "src" / "mfgstudy" / "core" / "exact.py")
    res = snakemake(smoke_run, "-n", configfile=str(copy / "workflow/configs/smoke.yaml"),
                    root=str(copy))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    counts = jobs_by_rule(res.stdout + res.stderr)
    config = resolve(SMOKE)
    mfg = [m for m in targets.trained_models(config)
           if config["methods"][m["method"]]["kind"] == "mfg"]  # fmt: skip
    assert mfg and counts.get("train", 0) >= len(mfg), counts
    unchanged = snakemake(smoke_run, "-n", configfile=SMOKE)
    assert "train" not in jobs_by_rule(unchanged.stdout + unchanged.stderr)
