"""Run Snakemake on this repository's workflow from a scratch working directory."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAKEFILE = os.path.join(ROOT, "Snakefile")
DEFAULT = os.path.join(ROOT, "config.yaml")
SMOKE = os.path.join(ROOT, "workflow", "configs", "smoke.yaml")
PAPER = os.path.join(ROOT, "workflow", "configs", "paper.yaml")
LABORATORY = os.path.join(ROOT, "workflow", "configs", "laboratory.yaml")


def snakemake(workdir, *args, configfile=SMOKE, timeout=600, root=ROOT):
    """Run this repository's workflow (or a copy of it at ``root``) in ``workdir``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        os.path.join(root, "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *([configfile] if isinstance(configfile, str | os.PathLike) else configfile),
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": os.path.join(root, "src")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def jobs_by_rule(output: str) -> dict[str, int]:
    """The per-rule job counts of Snakemake's "Job stats" table (the last one in ``output``)."""
    stats = output.rsplit("Job stats:", 1)
    if len(stats) < 2:
        return {}
    counts = {}
    for line in stats[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            if counts:
                break
            continue
        counts[parts[0]] = int(parts[1])
    return counts


def job_count(output: str) -> int:
    totals = re.findall(r"^total\s+(\d+)", output, flags=re.M)
    return int(totals[-1]) if totals else 0


def declared_gpu_hours(output: str) -> dict[str, dict]:
    """Per rule of a dry-run's job listing: jobs, jobs with a GPU, and the GPU-hours their declared
    runtimes add up to (gpu x runtime; budgets given to the scheduler, not measurements)."""
    out: dict[str, dict] = {}
    rule = None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^\s+resources: (.*)", line)
        if m and rule:
            res = dict(kv.split("=", 1) for kv in m.group(1).split(", ") if "=" in kv)
            gpu, runtime = int(res.get("gpu", 0)), int(res.get("runtime", 0))
            row = out.setdefault(rule, {"jobs": 0, "gpu_jobs": 0, "gpu_hours": 0.0})
            row["jobs"] += 1
            row["gpu_jobs"] += gpu > 0
            row["gpu_hours"] += gpu * runtime / 60.0
            rule = None
    return out


def planned_commands(output: str) -> list[dict]:
    """Per job of a dry-run's listing with --printshellcmds (-p): its rule, whether it is a local
    rule, its resources and its shell command."""
    jobs = []
    pattern = r"^(local)?rule (\w+):\n((?:    .*\n)+)(?:Shell command: (.*))?"
    for m in re.finditer(pattern, output, flags=re.M):
        res = re.search(r"^    resources: (.*)$", m.group(3), flags=re.M)
        resources = dict(kv.split("=", 1) for kv in res.group(1).split(", ")) if res else {}
        jobs.append({"rule": m.group(2), "local": bool(m.group(1)), "resources": resources,
                     "shell": m.group(4) or ""})  # fmt: skip
    return jobs
