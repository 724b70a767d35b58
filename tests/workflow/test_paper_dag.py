"""The paper-scale DAG (workflow/configs/paper.yaml) dry-runs on tiny stand-ins of its inputs in
their real formats (a CIFAR-10 python tarball, a folder of CelebA-HQ PNGs, a file where the
Inception weights go); it prints the job count and the GPU-hours its declared runtimes add up
to. Without the inputs it stops before any job, naming them."""

import hashlib
import time

import pytest

from tests.paper_fixtures import write_celebahq, write_cifar_tarball
from tests.workflow.helpers import (
    PAPER,
    declared_gpu_hours,
    job_count,
    planned_commands,
    snakemake,
)


def stand_ins(workdir) -> list[str]:
    """The paper config's local inputs at its relative paths, in their real formats; returns the
    config files to run with: the paper config, then the stand-in Inception's own hash (it is no
    copy of the published file, which the pre-flight check would otherwise require)."""
    data = workdir / "data"
    write_cifar_tarball(data / "cifar-10-python.tar.gz", n_per_batch=4)
    write_celebahq(data / "celebahq256", n=4, size=16)
    (data / "weights").mkdir(parents=True)
    weights = b"stand-in: never loaded"
    (data / "weights" / "inception-2015-12-05.pt").write_bytes(weights)
    stand_in = workdir / "stand_in_inception.yaml"
    stand_in.write_text(
        f"image_metrics:\n  inception_sha256: {hashlib.sha256(weights).hexdigest()}\n"
    )
    return [PAPER, str(stand_in)]


def test_paper_dag_dry_runs_on_stand_ins(tmp_path):
    configs = stand_ins(tmp_path)
    t0 = time.time()
    res = snakemake(tmp_path, "-n", "-p", configfile=configs)
    wall = time.time() - t0
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout + res.stderr
    n = job_count(out)
    hours = declared_gpu_hours(out)
    print(f"\npaper DAG: {n} jobs, dry-run {wall:.1f} s")
    for rule, row in sorted(hours.items(), key=lambda kv: -kv[1]["gpu_hours"]):
        if row["gpu_hours"]:
            jobs, gpu_jobs, gpu_h = row["jobs"], row["gpu_jobs"], row["gpu_hours"]
            print(f"  {rule:<16} {gpu_jobs:>4} of {jobs:>4} jobs on GPUs: {gpu_h:>7.0f} GPU-h")
    print(f"  declared total: {sum(r['gpu_hours'] for r in hours.values()):.0f} GPU-hours")
    assert n > 100
    assert sum(r["jobs"] for r in hours.values()) == n
    # the image jobs request a GPU, the 2-D and digits jobs none: 5 methods (the baselines, MFG
    # under the printed reading and under the one the claims file's rule chooses) x 2 data sets
    # x 3 seeds train on GPUs, and every image unit samples and evaluates there
    assert hours["train"]["gpu_jobs"] == 5 * 2 * 3, hours["train"]
    assert hours["unit"]["gpu_jobs"] >= 5 * 2 * 3, hours["unit"]
    assert hours["prepare_data"]["gpu_jobs"] == 0
    for dataset in ("cifar10", "celebahq256"):
        assert f"results/data/{dataset}.zarr" in out
        assert f"results/models/{dataset}/mfg/seed0/model.pt" in out
    assert "results/metrics/reference/cifar10/inception.zarr" in out

    # a job whose resources say gpu >= 1 asks for CUDA: on a node without it, it stops naming the
    # node and the fix (mfgstudy.device), instead of running on the CPU; the others keep auto
    jobs = planned_commands(out)
    assert len(jobs) == n
    gpu_rules = set()
    for job in jobs:
        gpu = int(job["resources"].get("gpu", 0))
        if gpu >= 1:
            gpu_rules.add(job["rule"])
            assert "--device cuda" in job["shell"], job
        elif "python -m mfgstudy" in job["shell"] and job["rule"] != "all":
            assert "--device cuda" not in job["shell"], job
    assert {"train", "unit", "reference", "floor"} <= gpu_rules, gpu_rules


@pytest.mark.parametrize("missing", ["cifar", "weights"])
def test_paper_dag_names_a_missing_input(tmp_path, missing):
    configs = stand_ins(tmp_path)
    if missing == "cifar":
        (tmp_path / "data" / "cifar-10-python.tar.gz").unlink()
        needle = "data/cifar-10-python.tar.gz"
    else:
        (tmp_path / "data" / "weights" / "inception-2015-12-05.pt").unlink()
        needle = "inception-2015-12-05.pt"
    res = snakemake(tmp_path, "-n", configfile=configs)
    assert res.returncode != 0
    assert needle in res.stdout + res.stderr
