"""The SLURM profile on a real (single-node, throw-away) SLURM cluster.

The smoke config runs through snakemake-executor-plugin-slurm with workflow/profiles/slurm, its
site settings given as a user gives them (MFGSTUDY_SLURM_* environment variables: a CPU and a GPU
partition, a GPU model) and GPU jobs asked for in the config. The node's two GPUs are fake
(see tests/slurm/cluster.py); the jobs compute on the CPU. What is checked is the submission:
every planned job went through sbatch and completed, with the partition, GPU request and task
count the profile and the rules' resources call for.

Under SLURM every job pays two extra Snakemake start-ups (the batch script and the job step),
about 10 s on a 2-core machine, so the whole smoke DAG (~170 jobs) takes about half an hour
there. By default the test runs a slice of it with a job of every rule family (prepare_data,
train, train_classifier, reference, sample, evaluate, floor, injection and a report rule, about
a dozen jobs); MFGSTUDY_SLURM_TEST_FULL=1 runs the whole DAG.

The test profile is the real one plus command-line overrides for a cluster without slurmdbd:
job status from `squeue` (sacct has no database to ask), no account (none exists), no retries;
the jobs run in the test's own environment (MFGSTUDY_SLURM_ENV=venv: no conda here). The fake GPUs
have no CUDA, so the smoke run lets its GPU jobs compute on the CPU (`gpu_device: auto`); with
the default, `cuda`, a GPU job on this node must stop naming the node and the fix (last test).
"""

import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import FLOOR, METRICS, paths
from mfgstudy.pipeline.targets import has_classifier, is_trainable, units
from tests.slurm.cluster import GPU_TYPE, LocalSlurm
from tests.workflow.helpers import ROOT, SMOKE, SNAKEFILE

PROFILE = os.path.join(ROOT, "workflow", "profiles", "slurm")
FULL = os.environ.get("MFGSTUDY_SLURM_TEST_FULL", "") not in ("", "0")
WORKFLOW_TIMEOUT = 3600 if FULL else 900  # s; the slice takes 2-3 minutes on 2 cores
SITE = {
    "MFGSTUDY_SLURM_PARTITION": "cpu",
    "MFGSTUDY_SLURM_GPU_PARTITION": "gpu",
    "MFGSTUDY_SLURM_GPU_MODEL": GPU_TYPE,
    "MFGSTUDY_SLURM_ENV": "venv",  # the jobs use this environment (the test has no conda)
}
# the table, figure, ledger and report rules: run by Snakemake itself, never submitted
LOCAL_RULES = {"all", "injection_figure", "figure1", "slopes_table", "table1", "table2", "claims",
               "robustness_table", "robustness_figure", "html_report", "export", "hjb_table",
               "dirac_table", "memorisation_table", "mfg_readings_table",
               "convergence_table", "robustness_exact_table", "robustness_exact_figure",
               "mfg_equilibrium_report", "cost_perturbation_report", "proposition6_table",
               "hjb_figure", "concentration"}  # fmt: skip
NO_SLURMDBD = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--slurm-no-account",
    "--retries",
    "0",
]

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def run_snakemake(cluster: LocalSlurm, workdir, *args, timeout=WORKFLOW_TIMEOUT):
    """Snakemake with the SLURM profile against `cluster`; stdout+stderr go to workdir/run.log."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--directory",
        str(workdir),
        "--workflow-profile",
        PROFILE,
        *NO_SLURMDBD,
        *args,
    ]
    env = {**cluster.env, **SITE, "PYTHONPATH": os.path.join(ROOT, "src")}
    env.pop("MFGSTUDY_SLURM_ACCOUNT", None)
    log = workdir / "run.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            res = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd=workdir
            )
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"snakemake ran past {timeout}s:\n{log.read_text()[-5000:]}\n{cluster.logs()}"
            )
    return res.returncode, log.read_text(), time.monotonic() - t0


def slurm_jobs(cluster: LocalSlurm, workdir) -> dict[str, dict[str, str]]:
    """`scontrol show job -d` of every job (finished ones stay for MinJobAge) run in workdir."""
    res = cluster.run("scontrol", "show", "job", "--details", "--oneliner")
    assert res.returncode == 0, res.stderr
    jobs = {}
    for line in res.stdout.splitlines():
        fields = dict(re.findall(r"(\S+?)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs[fields["JobId"]] = fields
    return jobs


def planned_jobs(log: str) -> dict[str, dict]:
    """Snakemake's job blocks (`rule NAME:` ... `jobid: N` ... `resources: ...`) by job id."""
    jobs = {}
    for m in re.finditer(r"^(local)?rule (\w+):\n((?:    .*\n)+)", log, flags=re.M):
        body = m.group(3)
        jobid = re.search(r"^    jobid: (\d+)$", body, flags=re.M).group(1)
        res = re.search(r"^    resources: (.*)$", body, flags=re.M)
        resources = dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}
        jobs[jobid] = {"rule": m.group(2), "local": bool(m.group(1)), "resources": resources}
    return jobs


def submissions(log: str) -> dict[str, str]:
    """Snakemake job id -> SLURM job id, from the plugin's `... has been submitted ...` lines."""
    return dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))


# --- the smoke config --------------------------------------------------------------------------


def slice_targets(config: dict) -> list[str]:
    """The metrics and floor of one unit of a trained method on the digits, and the injection
    figure: a job of every rule family, the GPU ones (train, sample, evaluate) and CPU ones."""
    unit = next(
        u
        for u in units(config)
        if has_classifier(config, u.dataset) and is_trainable(config, u.method)
    )
    targets = [
        METRICS.format(**unit.wildcards),
        FLOOR.format(sweep=unit.sweep, dataset=unit.dataset),
    ]
    if config.get("injection"):
        targets.append("injection_figure")
    return targets


@pytest.fixture(scope="module")
def smoke_on_slurm(slurm_cluster, tmp_path_factory):
    wd = tmp_path_factory.mktemp("smoke_slurm")
    config = resolve(SMOKE)
    for family in ("train", "sample", "evaluate"):  # every job family that can use a GPU
        config["resources"][family].update(gpu=1, cpus_per_gpu=1)
    config["gpu_device"] = "auto"  # the fake GPUs have no CUDA: compute on the CPU
    config["checkpoint"]["resumptions"] = 0  # no retries: each job is submitted once
    configfile = wd / "smoke_gpu.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    targets = [] if FULL else slice_targets(config)
    rc, log, seconds = run_snakemake(
        slurm_cluster, wd, "-s", SNAKEFILE, "--configfile", str(configfile), "--", *targets
    )
    n = len(submissions(log))
    print(f"smoke config through SLURM: {n} jobs in {seconds:.0f}s")
    assert rc == 0, f"{log[-6000:]}\n{slurm_cluster.logs()}"
    return wd, log, targets


def test_the_workflow_succeeds_through_sbatch(smoke_on_slurm):
    wd, log, targets = smoke_on_slurm
    assert "steps (100%) done" in log
    for t in targets:
        assert t == "injection_figure" or (wd / t).exists(), t
    if FULL:
        assert (wd / "results" / "claims.md").exists()


def test_every_planned_job_was_one_completed_slurm_job(smoke_on_slurm, slurm_cluster):
    wd, log, _ = smoke_on_slurm
    planned = planned_jobs(log)
    remote = {j for j, job in planned.items() if not job["local"]}
    assert {planned[j]["rule"] for j in set(planned) - remote} <= LOCAL_RULES
    assert not {planned[j]["rule"] for j in remote} & LOCAL_RULES  # no report job queued
    if not FULL:
        assert any(job["rule"] == "injection_figure" and job["local"] for job in planned.values())
    families = {"prepare_data", "train", "train_classifier", "unit", "floor"}
    assert families <= {planned[j]["rule"] for j in remote}
    submitted = submissions(log)
    assert set(submitted) == remote  # each job submitted exactly once (no retries)
    assert len(set(submitted.values())) == len(remote)

    jobs = slurm_jobs(slurm_cluster, wd)
    assert set(jobs) == set(submitted.values())
    for sm_id, slurm_id in submitted.items():
        job = jobs[slurm_id]
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
        assert job["Comment"].split("_wildcards_")[0] == f"rule_{planned[sm_id]['rule']}", job
    queued = slurm_cluster.run("squeue", "--noheader", "--states=PD,R,CG").stdout.strip()
    assert queued == ""

    # jobcomp/filetxt: SLURM's own record of each finished job
    records = [r for r in slurm_cluster.jobcomp_records() if r["WorkDir"] == str(wd)]
    assert sorted(r["JobId"] for r in records) == sorted(submitted.values())
    assert Counter(r["JobState"] for r in records) == {"COMPLETED": len(remote)}


def test_gpu_jobs_asked_for_gpus_in_the_gpu_partition(smoke_on_slurm, slurm_cluster):
    """Jobs whose resources say gpu=1 carry `--gpus=fake:1` (the GPU model from the profile), got
    a GPU, ran in the GPU partition with one task and cpus_per_gpu CPUs; the others got none."""
    wd, log, _ = smoke_on_slurm
    planned, submitted = planned_jobs(log), submissions(log)
    jobs = slurm_jobs(slurm_cluster, wd)
    gpu_rules = Counter()
    for sm_id, slurm_id in submitted.items():
        rule, resources = planned[sm_id]["rule"], planned[sm_id]["resources"]
        job = jobs[slurm_id]
        if int(resources.get("gpu", 0)) > 0:
            gpu_rules[rule] += 1
            assert resources["gpu_model"] == GPU_TYPE and resources["slurm_partition"] == "gpu"
            assert job["TresPerJob"] == f"gres:gpu:{GPU_TYPE}:1", job
            assert job["JOB_GRES"] == f"gpu:{GPU_TYPE}:1", job  # a GPU was allocated
            assert job["Partition"] == "gpu"
            assert job["CpusPerTres"] == "gres:gpu:1"  # cpus_per_gpu=1
            assert job["NumTasks"] == "1"  # one task: the command starts once
        else:
            assert "TresPerJob" not in job and job["JOB_GRES"] == "(null)", job
            assert job["Partition"] == "cpu"
    assert {"train", "train_classifier", "unit", "floor"} <= set(gpu_rules)
    assert "prepare_data" not in gpu_rules


# --- a two-GPU job -------------------------------------------------------------------------------

TWO_GPU_SNAKEFILE = """
rule train:
    output: "ran.txt"
    threads: 1
    resources: gpu=2, cpus_per_gpu=1, tasks=1, mem_mb=500, runtime=5
    shell: "echo task=$SLURM_PROCID gpus=$CUDA_VISIBLE_DEVICES >> {output}"
"""


def test_two_gpu_job_runs_its_command_once(slurm_cluster, tmp_path):
    """A job with gpu=2 (as a multi-GPU train job, whose torchrun starts a process per GPU) runs
    its command once, with both GPUs; `--ntasks-per-gpu=1` would make it two tasks."""
    (tmp_path / "Snakefile").write_text(TWO_GPU_SNAKEFILE)
    rc, log, seconds = run_snakemake(slurm_cluster, tmp_path, timeout=300)
    assert rc == 0, f"{log[-4000:]}\n{slurm_cluster.logs()}"
    assert (tmp_path / "ran.txt").read_text().splitlines() == ["task=0 gpus=0,1"]
    (job,) = slurm_jobs(slurm_cluster, tmp_path).values()
    assert job["TresPerJob"] == f"gres:gpu:{GPU_TYPE}:2" and job["NumTasks"] == "1", job


# --- a GPU job on a node without CUDA ------------------------------------------------------------


def test_a_gpu_job_on_a_node_without_cuda_fails_naming_the_node_and_the_fix(
    slurm_cluster, tmp_path
):
    """A train job whose resources say gpu: 1 gets a (fake) GPU from SLURM, but this node's torch
    has no CUDA: under the default `gpu_device: cuda` it must stop at its start, its log naming
    the node and the fix, instead of training on the CPU without a word."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this node has CUDA: the job would run on its GPU")
    config = resolve(SMOKE)
    config["resources"]["train"].update(gpu=1, cpus_per_gpu=1)
    config["checkpoint"]["resumptions"] = 0  # fail once, no resubmission
    configfile = tmp_path / "smoke_gpu_train.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    unit = next(u for u in units(config) if is_trainable(config, u.method))
    wc = {"dataset": unit.dataset, "method": unit.method, "seed": unit.seed}
    model = paths.model.format(**wc)
    rc, log, _ = run_snakemake(
        slurm_cluster, tmp_path, "-s", SNAKEFILE, "--configfile", str(configfile), "--", model,
        timeout=600,
    )  # fmt: skip
    assert rc != 0, log[-4000:]
    assert not (tmp_path / model).exists()
    (train,) = [j for j in planned_jobs(log).values() if j["rule"] == "train"]
    assert train["resources"]["gpu"] == "1" and not train["local"]
    job_log = (tmp_path / "results" / "logs" / "train" / unit.dataset / unit.method
               / f"seed{unit.seed}.log").read_text()  # fmt: skip
    assert "--device cuda (this job's resources ask for a GPU)" in job_log, job_log[-3000:]
    assert socket.gethostname() in job_log  # the node
    if torch.version.cuda is None:  # why, and the fix
        assert "CPU wheel" in job_log and "make slurm-env TORCH=cuda" in job_log
    assert "Fix:" in job_log
    assert "Traceback" not in job_log
