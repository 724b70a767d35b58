"""Time the DAG dry-runs and print them beside their targets (prints; asserts nothing).

    python tests/benchmarks/bench_dag.py                 # paper and default DAGs, fresh dirs
    python tests/benchmarks/bench_dag.py --noop DIR      # also a no-op rerun in a finished run

Targets (issue 5): the paper DAG's dry-run <= 10 s; a no-op rerun of the default study <= 5 s
(`bench_workflow.py --default` prints the latter after a real run as well).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.workflow.helpers import DEFAULT, job_count, snakemake  # noqa: E402
from tests.workflow.test_paper_dag import stand_ins  # noqa: E402


def timed(workdir, configfile, repeats: int = 3) -> tuple[float, int]:
    """Best of ``repeats`` dry-runs (the first also fills Python's bytecode caches)."""
    best, n = float("inf"), 0
    for _ in range(repeats):
        t0 = time.time()
        res = snakemake(workdir, "-n", configfile=configfile)
        best = min(best, time.time() - t0)
        if res.returncode:
            raise SystemExit(res.stderr[-3000:])
        n = job_count(res.stdout + res.stderr)
    return best, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--noop", help="a working directory holding a finished default run")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mfgstudy-dag-") as tmp:
        paper_dir = Path(tmp) / "paper"
        paper_configs = stand_ins(paper_dir)  # the paper config and the stand-in's hash
        for name, wd, cfg, target in (
            ("paper", paper_dir, paper_configs, 10.0),
            ("default", Path(tmp) / "default", DEFAULT, None),
        ):
            wd.mkdir(exist_ok=True)
            wall, n = timed(wd, cfg)
            verdict = "" if target is None else f" (target <= {target:.0f} s: "
            verdict += "" if target is None else ("met)" if wall <= target else "MISSED)")
            print(f"{name:>8} DAG: {n:>5} jobs, dry-run {wall:.1f} s{verdict}")
    if a.noop:
        wall, n = timed(Path(a.noop), DEFAULT)
        ok = "met" if wall <= 5.0 and n == 0 else "MISSED"
        print(f"   no-op rerun: {n} jobs, {wall:.1f} s (target 0 jobs, <= 5 s: {ok})")


if __name__ == "__main__":
    main()
