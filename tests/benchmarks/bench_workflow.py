"""Time a whole study and print wall time per rule (from Snakemake's benchmark files).

    python tests/benchmarks/bench_workflow.py            # smoke config (target: <= 3 min)
    python tests/benchmarks/bench_workflow.py --default  # default study (target: <= 30 min with
                                                         # all methods; the spine alone: 15 min)

Runs in a scratch directory, so it never touches ./results. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def rule_times(workdir: Path) -> pd.DataFrame:
    rows = []
    for f in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        rule = f.relative_to(workdir / "results" / "benchmarks").parts[0]
        if rule.endswith(".tsv"):
            rule = rule[:-4]
        b = pd.read_csv(f, sep="\t")
        rows.append(
            {"rule": rule, "wall_s": float(b["s"].iloc[-1]), "cpu_s": float(b["cpu_time"].iloc[-1])}
        )
    df = pd.DataFrame(rows)
    return (
        df.groupby("rule")
        .agg(
            jobs=("wall_s", "size"),
            wall_total_s=("wall_s", "sum"),
            wall_mean_s=("wall_s", "mean"),
            wall_max_s=("wall_s", "max"),
            cpu_total_s=("cpu_s", "sum"),
        )
        .sort_values("wall_total_s", ascending=False)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--default", action="store_true", help="run config.yaml instead of smoke.yaml")
    p.add_argument("--cores", default="2")
    p.add_argument("--keep", help="work in this directory instead of a temporary one")
    a = p.parse_args()
    config = ROOT / ("config.yaml" if a.default else "workflow/configs/smoke.yaml")
    target = 30 * 60 if a.default else 3 * 60
    with tempfile.TemporaryDirectory(prefix="mfgstudy-bench-") as tmp:
        wd = Path(a.keep or tmp)
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "--directory",
            str(wd),
            "--configfile",
            str(config),
            "--cores",
            a.cores,
            "--quiet",
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        t0 = time.time()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if res.returncode:
            print(res.stderr[-4000:])
            raise SystemExit(f"workflow failed after {wall:.0f}s")
        pd.set_option("display.width", 140)
        print(rule_times(wd).round(2).to_string())
        t0 = time.time()
        subprocess.run(cmd + ["-n"], capture_output=True, env=env, check=True)
        noop = time.time() - t0
    print(f"\nconfig: {config.relative_to(ROOT)}  cores: {a.cores}")
    print(
        f"end to end: {wall:.1f} s (target <= {target} s: {'met' if wall <= target else 'MISSED'})"
    )
    print(f"no-op dry-run afterwards: {noop:.1f} s")


if __name__ == "__main__":
    main()
