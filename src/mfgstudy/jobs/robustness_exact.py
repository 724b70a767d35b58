"""The exact-score robustness job: one (law, perturbation kind) of Theorem 4 / Corollary 5,
measured by ``mfgstudy.analysis.robustness_exact``, written as one store."""

from __future__ import annotations

import time

from mfgstudy.analysis.robustness_exact import measure
from mfgstudy.store import write_store


def robustness_job(spec: dict, out: str) -> None:
    t0 = time.time()
    ds, attrs = measure(spec)
    write_store(ds, out, spec, None, t0, attrs)
