"""Compute per job: the Snakemake resources of each rule family (GPUs, memory, runtime, CPUs per
GPU) from the config's ``resources``, a job's ``--device``, and how a train job runs (its threads,
its launcher: python or torchrun, its retries and checkpoint cadence). Site settings (account,
partition, GPU model) are the SLURM profile's, not the planner's.
"""

from __future__ import annotations

from mfgstudy.pipeline.config_values import job_setting
from mfgstudy.pipeline.paths import sweep_eps

# the rule families whose resources the config sets (config["resources"])
RESOURCE_FAMILIES = ("data", "train", "sample", "evaluate")


def job_resources(config: dict, family: str) -> dict:
    """Snakemake resources of a rule family, per job: ``gpu``, ``mem_mb``, ``runtime`` (minutes)
    and ``cpus_per_gpu`` (GPU jobs; default: the config's ``threads``) from
    ``config["resources"][family]``, where ``by_dataset`` overrides any of them for a data set
    (the 2-D laws on CPU nodes, the paper's images on GPUs). ``tasks_per_gpu`` = 0 keeps every
    job one task: its command starts once, and a multi-GPU train job starts its own process per
    GPU with torchrun (the SLURM plugin would otherwise start the command once per GPU). Site
    settings (account, partition, GPU model) are the SLURM profile's, not the rules'."""

    def get(key: str, default=None):
        return lambda wc: job_setting(config, family, wc.dataset, key, default)

    def cpus_per_gpu(wc) -> int:  # 0 on CPU jobs: the plugin then asks for --cpus-per-task
        return get("cpus_per_gpu", config["threads"])(wc) if get("gpu")(wc) else 0

    return {
        "gpu": get("gpu"),
        "mem_mb": get("mem_mb"),
        "runtime": get("runtime"),
        "cpus_per_gpu": cpus_per_gpu,
        "tasks_per_gpu": 0,
    }


def job_device(config: dict, gpus) -> str:
    """The ``--device`` of a job with ``gpus`` GPUs (its ``gpu`` resource, as Snakemake or the
    SLURM profile settled it): ``cuda`` for a GPU job, so that it runs on a GPU or stops naming
    its node and the fix (``mfgstudy.device``), never on the CPU without a word; ``auto`` for
    the others (the GPU where torch sees one, logged). The config's ``gpu_device: auto`` lets GPU
    jobs fall back too, for a test cluster whose GPUs are fake (tests/slurm)."""
    if int(gpus or 0) >= 1:
        return config.get("gpu_device", "cuda")
    return "auto"


def train_retries(config: dict) -> int:
    """The train rule's retries: ``checkpoint.resumptions`` (default 10). A train job inside a
    SLURM job stops cleanly before its runtime (exit 75) and each retry resumes from its
    checkpoint; every other rule keeps the profile's ``retries`` (one, for a node failure)."""
    return int(config["checkpoint"].get("resumptions", 10))


def checkpoint_every(config: dict, method: str) -> int:
    """A train job's checkpoint cadence: in steps, or in outer iterations for MFG-Diffusion."""
    c = config["checkpoint"]
    return int(c["every_outer_iters"] if config["methods"][method]["kind"] == "mfg" else c["every"])


def threads_per_process(config: dict, dataset: str, threads: int) -> int:
    """Torch threads of each training process: the job's threads shared by its GPUs' processes."""
    return max(1, int(threads) // max(1, job_setting(config, "train", dataset, "gpu")))


def launcher(config: dict, dataset: str) -> str:
    """How a train job starts Python: plainly, or torchrun with one process per GPU (DDP)."""
    gpus = job_setting(config, "train", dataset, "gpu")
    if gpus <= 1:
        return "python"
    return f"torchrun --standalone --nproc_per_node={gpus}"


def unit_resources(config: dict) -> dict:
    """A unit job's resources: the sample family's GPU and memory (the larger of sample's and
    evaluate's), and the runtime of sampling and evaluating once per eps."""
    res = job_resources(config, "sample")

    def n_values(wc) -> int:
        return len(sweep_eps(config["sweeps"][wc.sweep]))

    def setting(wc, key):
        return [job_setting(config, f, wc.dataset, key) for f in ("sample", "evaluate")]

    return {**res, "mem_mb": lambda wc: max(setting(wc, "mem_mb")),
            "runtime": lambda wc: n_values(wc) * sum(setting(wc, "runtime"))}  # fmt: skip
