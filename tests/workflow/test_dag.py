"""Dry-runs of the default and smoke DAGs, lint, and bad configs rejected by the Snakemake CLI."""

import pytest
import yaml

from mfgstudy.pipeline.config_files import resolve
from tests.workflow.helpers import DEFAULT, LABORATORY, SMOKE, job_count, snakemake


# the paper DAG needs stand-ins of its local inputs: tests/workflow/test_paper_dag.py
@pytest.mark.parametrize(
    "configfile", [DEFAULT, SMOKE, LABORATORY], ids=["default", "smoke", "laboratory"]
)
def test_dry_run(tmp_path, configfile):
    res = snakemake(tmp_path, "-n", configfile=configfile)
    assert res.returncode == 0, res.stderr[-3000:]
    n = job_count(res.stdout + res.stderr)
    print(f"{configfile}: {n} jobs")
    assert n > 10
    for rule in (
        "prepare_data",
        "train",
        "train_classifier",
        "unit",
        "floor",
        "collect",
        "figure1",
        "slopes_table",
        "table1",
        "table2",
        "hjb_table",
        "dirac_table",
        "hjb_figure",
        "concentration",
        "convergence_closed_form",
        "cost_perturbation",
        "cost_perturbation_report",
        "convergence_mixture",
        "convergence_table",
        "robustness_exact",
        "robustness_exact_table",
        "robustness_exact_figure",
        "proposition6_exact",
        "proposition6_table",
    ):
        assert f"rule {rule}:" in res.stdout + res.stderr or rule in res.stdout


def test_lint_is_clean(tmp_path):
    res = snakemake(tmp_path, "--lint", configfile=SMOKE)
    assert res.returncode == 0 and "good condition" in res.stdout + res.stderr, res.stdout[-3000:]


def _bad(tmp_path, mutate):
    cfg = resolve(SMOKE)
    mutate(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    # a config file given on the command line is merged onto the default config.yaml, so start
    # from a workdir with no config.yaml and the smoke config as the whole config
    return snakemake(tmp_path, "-n", configfile=str(path))


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda c: c.update(lerning_rate=0.1), "lerning_rate"),
        (lambda c: c["sde"].update(t_min="small"), "instance['sde']['t_min']"),
        (
            lambda c: c["sweeps"]["w2_vs_steps"]["datasets"].append("cifar10"),
            "sweeps.w2_vs_steps.datasets: 'cifar10'",
        ),
        (
            lambda c: c["sweeps"]["w2_vs_steps"]["methods"].append("gan"),
            "sweeps.w2_vs_steps.methods: 'gan'",
        ),
        (
            lambda c: c["report"]["studies"]["hjb"].update(sweep="hjb_cifar"),
            "report.studies.hjb.sweep: 'hjb_cifar'",
        ),
        (lambda c: c["methods"]["hjb_plain"].update(p=3), "hjb_plain"),
        (
            lambda c: c["convergence"]["gaussian"].update(method="ddpm"),
            "convergence.gaussian.method: 'ddpm' is not an exact score",
        ),
        (
            lambda c: c["robustness_exact"]["laws"]["separated"]["law"].update(weights=[1.0]),
            "robustness_exact.laws.separated.law: one weight per mode",
        ),
        (lambda c: c["report"]["rates"].update(tail=2), "tail"),
    ],
)
def test_bad_config_is_rejected_before_any_job(tmp_path, mutate, needle):
    res = _bad(tmp_path, mutate)
    assert res.returncode != 0
    assert needle in res.stdout + res.stderr
    assert not (tmp_path / "results").exists()


def test_a_configfile_replaces_the_default_study(tmp_path):
    """With config.yaml present, --configfile smoke.yaml must not inherit the default's sweeps."""
    import shutil

    from tests.workflow.helpers import DEFAULT

    shutil.copy(DEFAULT, tmp_path / "config.yaml")
    res = snakemake(tmp_path, "-n", configfile=SMOKE)
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    assert "methods_digits" not in out and "checkerboard_m1024" not in out
