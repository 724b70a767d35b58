"""A whole study on two revisions, side by side: wall time, jobs, job-seconds, and the share of
job-seconds spent importing before (and around) the science; then which results differ.

    python tests/benchmarks/bench_startup.py --base e1d6641            # smoke config
    python tests/benchmarks/bench_startup.py --base e1d6641 --default  # the default study

Each revision is checked out in a scratch worktree and runs in its own scratch directory, one
after the other on the same machine (never in parallel: they would share the cores). Start-up is
measured the same way on both: every job runs with PYTHONPROFILEIMPORTTIME=1, and a job's import
time is the sum of the cumulative times of the top-level imports its log lists (torch, xarray,
the package...; the interpreter's own start, ~30 ms, is not counted). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")  # depth 0: no indent


def import_seconds(log: Path) -> float:
    """Seconds of top-level imports a job's log lists (PYTHONPROFILEIMPORTTIME)."""
    total = 0
    for line in log.read_text(errors="replace").splitlines():
        m = IMPORT_LINE.match(line)
        if m:
            total += int(m.group(1))
    return total / 1e6


def run(rev: str, config_rel: str, cores: str, scratch: Path) -> dict:
    tree, work = scratch / f"tree-{rev}", scratch / f"run-{rev}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                   check=True, capture_output=True)  # fmt: skip
    try:
        env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PYTHONPROFILEIMPORTTIME": "1"}
        cmd = [sys.executable, "-m", "snakemake", "-s", str(tree / "Snakefile"),
               "--directory", str(work), "--configfile", str(tree / config_rel),
               "--cores", cores, "--quiet"]  # fmt: skip
        t0 = time.time()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.time() - t0
        if res.returncode:
            print(res.stderr[-3000:])
            raise SystemExit(f"{rev}: the workflow failed after {wall:.0f}s")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)  # fmt: skip
    jobs = []
    bench, logs = work / "results" / "benchmarks", work / "results" / "logs"
    for f in bench.rglob("*.tsv"):
        rel = f.relative_to(bench).with_suffix(".log")
        log = logs / rel
        b = pd.read_csv(f, sep="\t")
        imports = import_seconds(log) if log.exists() else float("nan")
        rule = rel.parts[0].removesuffix(".log")
        jobs.append({"rule": rule, "s": float(b["s"].iloc[-1]), "import_s": imports,
                     "cpu_s": float(b["cpu_time"].iloc[-1])})  # fmt: skip
    df = pd.DataFrame(jobs)
    return {"rev": rev, "wall_s": wall, "jobs": len(df), "job_s": df["s"].sum(),
            "cpu_s": df["cpu_s"].sum(), "import_s": df["import_s"].sum(), "per_rule": df,
            "results": work / "results"}  # fmt: skip


def compare(a: Path, b: Path) -> list[str]:
    """The tables, the ledger and the figures' data that differ between two runs."""
    out = []
    for sub in ("tables", "claims.md", "claims.json"):
        pa, pb = a / sub, b / sub
        files = sorted({p.relative_to(a) for p in pa.rglob("*") if p.is_file()}
                       | {p.relative_to(b) for p in pb.rglob("*") if p.is_file()}) \
            if pa.is_dir() else [Path(sub)]  # fmt: skip
        for f in files:
            if not (a / f).exists() or not (b / f).exists():
                out.append(f"{f}: only in {'the new run' if (b / f).exists() else 'the base run'}")
            elif not filecmp.cmp(a / f, b / f, shallow=False):
                out.append(f"{f}: differs")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the previous revision (e.g. the last main)")
    p.add_argument("--new", default="HEAD")
    p.add_argument("--default", action="store_true", help="config.yaml instead of smoke.yaml")
    p.add_argument("--cores", default="2")
    p.add_argument("--keep", help="run in this directory and keep it (run-<rev>/results)")
    a = p.parse_args()
    config = "config.yaml" if a.default else "workflow/configs/smoke.yaml"
    with tempfile.TemporaryDirectory(prefix="mfgstudy-bench-") as tmp:
        runs, scratch = [], Path(a.keep or tmp)
        for rev in (a.base, a.new):  # each run's figures as soon as it ends: a run is long
            runs.append(run(rev, config, a.cores, scratch))
            r = runs[-1]
            print(
                f"{rev}: {r['wall_s'] / 60:.2f} min, {r['jobs']} jobs, {r['job_s']:.0f} job-s, "
                f"{r['cpu_s']:.0f} job CPU-s, "
                f"import share {r['import_s'] / r['job_s']:.0%}",
                flush=True,
            )
        rows = [{"revision": r["rev"], "wall_min": r["wall_s"] / 60, "jobs": r["jobs"],
                 "job_seconds": r["job_s"], "job_cpu_seconds": r["cpu_s"],
                 "import_seconds": r["import_s"],
                 "start-up share": r["import_s"] / r["job_s"]} for r in runs]  # fmt: skip
        pd.set_option("display.width", 140)
        print(f"config: {config}, cores: {a.cores}")
        print(pd.DataFrame(rows).round(3).to_string(index=False))
        base, new = runs
        print(f"\nwall time: {new['wall_s'] / base['wall_s']:.0%} of the base revision's")
        for r in runs:
            per = r["per_rule"].groupby("rule").agg(jobs=("s", "size"), s=("s", "sum"),
                                                     cpu_s=("cpu_s", "sum"),
                                                     import_s=("import_s", "sum"))  # fmt: skip
            print(f"\n{r['rev']} per rule:\n{per.sort_values('s', ascending=False).round(1)}")
        diff = compare(base["results"], new["results"])
        print("\nresults that differ:" if diff else "\nresults: identical tables and ledger")
        print("\n".join(f"  {d}" for d in diff))


if __name__ == "__main__":
    main()
