"""Incremental reruns on top of the finished smoke run: what Snakemake would run (dry-runs, the
run itself stays untouched) after adding an eps value, adding a seed, or changing a sampler's
code. Only the jobs a change touches may rerun (tests/hostile: an edit of exact.py reruns MFG
training).
(The no-op rerun is tested in test_smoke_run.)"""

import os
import shutil

import pytest
import yaml

from tests.workflow.helpers import ROOT, jobs_by_rule, snakemake

SMOKE_RELATIVE = "workflow/configs/smoke.yaml"

AGGREGATION = {  # the jobs downstream of every sample: the cube and what reads it
    "collect",
    "export",
    "html_report",
    "figure1",
    "slopes_table",
    "table1",
    "table2",
    "robustness_table",
    "robustness_figure",
    "claims",
    "hjb_figure",  # its panels name each variant's fidelity from the table
    "hjb_table",
    "dirac_table",
    "memorisation_table",
    "mfg_readings_table",
    "concentration",
    "all",
}


def planned(workdir, override=None, root=ROOT):
    """Per-rule counts of the jobs a dry-run plans with the smoke config, deep-merged with the
    ``override`` dict (a second config file: Snakemake merges config files in order)."""
    files = [os.path.join(root, SMOKE_RELATIVE)]
    if override:
        extra = os.path.join(workdir, "override.yaml")
        with open(extra, "w") as f:
            yaml.safe_dump(override, f)
        files.append(extra)
    res = snakemake(workdir, "-n", configfile=files, root=root)
    assert res.returncode == 0, res.stderr[-3000:]
    return jobs_by_rule(res.stdout + res.stderr)


@pytest.mark.slow
def test_adding_one_eps_runs_only_its_jobs(smoke_run):
    counts = planned(smoke_run, {"sweeps": {"robustness_2d": {"eps": [0.1, 0.5, 0.2]}}})
    # robustness_2d: one data set, 3 methods, 2 seeds, one sampler and grid: its 6 unit jobs
    # rerun, each computing only the new eps (the others come from the cache: test_unit_job)
    assert counts.get("unit") == 6, counts
    assert set(counts) - {"unit"} <= AGGREGATION, counts


@pytest.mark.slow
def test_adding_a_seed_runs_only_that_seeds_chain(smoke_run):
    counts = planned(smoke_run, {"sweeps": {"robustness_digits": {"seeds": [0, 1]}}})
    # robustness_digits: digits x (ddpm, flow_matching, mfg) x seed 1;
    # seed 1 of ddpm and mfg on digits is trained already (digits_fd), flow_matching's is new
    assert counts.get("train") == 1, counts
    assert counts.get("unit") == 3, counts  # its three units, each with eps 0 and 0.1
    assert set(counts) - {"train", "unit"} <= AGGREGATION, counts


def _edited_copy(tmp_path, module):
    """A copy of the workflow whose ``module`` (under src/mfgstudy) differs by one comment."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "results", ".snakemake"))
    path = copy / "src" / "mfgstudy" / module
    path.write_text(path.read_text() + "\n# an edit\n")
    return str(copy)


@pytest.mark.slow
def test_changing_report_code_reruns_only_reports(smoke_run, tmp_path):
    """Each rule's code hash is the import closure of its job's module: an edit to the
    companion studies' report module reruns their tables, nothing upstream."""
    counts = planned(smoke_run, root=_edited_copy(tmp_path, "report/pde.py"))
    expected = {
        "dirac_table",
        "memorisation_table",
        "concentration",
        "claims",
        "html_report",
        "all",
    }
    assert set(counts) == expected, counts  # dirac and memorisation: not hjb, MFG readings
