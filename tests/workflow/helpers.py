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


def snakemake(workdir, *args, configfile=SMOKE, timeout=600):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        SNAKEFILE,
        "--directory",
        str(workdir),
        "--configfile",
        configfile,
        *args,
    ]
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def job_count(output: str) -> int:
    totals = re.findall(r"^total\s+(\d+)", output, flags=re.M)
    return int(totals[-1]) if totals else 0
