"""Theorem 2 where it must hold: the closed-form W2 of every sampler's N-step law on a Gaussian
data law (exact score), N doubled until the rate is read in its asymptotic regime.

For a Gaussian law every sampler step is affine, so the N-step law is Gaussian and its W2 to the
sampler's continuous-time limit is exact (``mfgstudy.metrics.gaussian``): a rate can be followed
as far in N as it needs, at the cost of N affine steps per point. Each (sampler, grid) curve
starts at ``steps.start`` and doubles N until the tail of ``mfgstudy.rates`` passes its regime
test over ``steps.min_points`` points, or W2 reaches round-off (an exact sampler, or a
second-order one at large N), or N exceeds ``steps.max``. The curves are one store, dims
(sampler, grid, steps), NaN where a curve stopped earlier.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from mfgstudy.data import load_data
from mfgstudy.evaluate import closed_form_w2
from mfgstudy.rates import RateSpec, fit_rate
from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)

ROUND_OFF = 1e-7  # W2 is a square root: variances at round-off (1e-16) give ~1e-8


def doubling_curve(w2_at, start: int, stop: int, rates: RateSpec, min_points: int):
    """(steps, W2) doubling N from ``start`` until the regime test passes (over at least
    ``min_points`` points), W2 falls under round-off, or N passes ``stop``."""
    steps, values = [], []
    n = start
    while n <= stop:
        steps.append(n)
        values.append(w2_at(n))
        if values[-1] < rates.floor_factor * ROUND_OFF:
            break
        if len(steps) >= min_points:
            rate = fit_rate(steps, values, rates, resampling="exact", floor=ROUND_OFF)
            if rate.regime:
                break
        n *= 2
    return np.array(steps), np.array(values)


def gaussian_job(spec: dict, data_path: str, out: str) -> None:
    """Closed-form W2 against N for every sampler and grid of ``spec`` on a Gaussian law."""
    t0 = time.time()
    data = load_data(open_store(data_path))
    rates = RateSpec.from_dict(
        {**spec["rates"], "regime_tol": spec["regime_tol"]}, floor_factor=spec["floor_factor"]
    )
    start, stop = int(spec["steps"]["start"]), int(spec["steps"]["max"])
    curves = {}
    for s_name, s_spec in spec["samplers"].items():
        for g_name, g_spec in spec["grids"].items():
            unit = {**spec, "sampler": s_spec, "grid": g_spec}
            at = closed_form_w2(unit, data)
            if at is None:
                raise ValueError(
                    f"convergence.gaussian: data set {spec['dataset']!r} with method "
                    f"{spec['method_name']!r} has no closed form (a one-component Gaussian law "
                    "and the exact score are needed)"
                )
            t1 = time.time()
            steps, w2 = doubling_curve(lambda n, at=at: at(n)["w2_closed"], start, stop, rates,
                                       spec["steps"]["min_points"])  # fmt: skip
            curves[(s_name, g_name)] = dict(zip(steps.tolist(), w2.tolist(), strict=True))
            log.info("%s/%s: N = %d..%d, W2 %.3g..%.3g (%.1fs)", s_name, g_name, steps[0],
                     steps[-1], w2[0], w2[-1], time.time() - t1)  # fmt: skip
    all_steps = sorted({n for c in curves.values() for n in c})
    samplers, grids = list(spec["samplers"]), list(spec["grids"])
    arr = np.full((len(samplers), len(grids), len(all_steps)), np.nan)
    for (s, g), c in curves.items():
        for n, v in c.items():
            arr[samplers.index(s), grids.index(g), all_steps.index(n)] = v
    ds = xr.Dataset(
        {"w2_closed": (("sampler", "grid", "steps"), arr)},
        coords={"sampler": samplers, "grid": grids, "steps": all_steps},
    )
    write_store(ds, out, spec, None, t0, {"dataset": spec["dataset"], "method": spec["method_name"],
                                         "round_off": ROUND_OFF,
                                         "regime_tol": spec["regime_tol"]})  # fmt: skip
