"""The Theorem 2 convergence jobs (``mfgstudy.analysis.convergence``): closed-form curves on a
Gaussian or a Dirac data set, law-level refinements on a mixture; one store each."""

from __future__ import annotations

import time

from mfgstudy.analysis.convergence import gaussian_curves, mixture_refinements
from mfgstudy.data import load_data
from mfgstudy.store import open_store, write_store


def closed_form_job(spec: dict, data_path: str, out: str) -> None:
    t0 = time.time()
    ds, attrs = gaussian_curves(spec, load_data(open_store(data_path)))
    write_store(ds, out, spec, None, t0, attrs)


def mixture_job(spec: dict, out: str) -> None:
    t0 = time.time()
    ds, attrs = mixture_refinements(spec)
    write_store(ds, out, spec, int(spec["seed"]), t0, attrs)
