"""Theorem 2's rates: the tail slope of W2 against the number of steps N, from the rate tables."""

from __future__ import annotations

import numpy as np

from mfgstudy.report.claims.measures.common import regime_of
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import CONTEXT, JUDGED, Condition, fmt


@measure(
    "n_slope",
    evidence=("w2_slopes", "fig1_w2_vs_N"),
    evidence_by_sweep={"convergence": ("theorem2_convergence", "fig1_w2_vs_N")},
)
def n_slope(m: dict, ctx) -> list[Condition]:
    """One condition per (sampler, grid, estimator) row of the rate table for this law; the
    estimators of one (sampler, grid) form a group. ``estimators``: {name: bound} with bound
    exact, estimate, upper or lower; an ``estimate`` is context (it decides no bound claim).
    ``samplers``: only these samplers' rows (default: every one)."""
    df = ctx.slopes
    if df.empty:
        return [Condition(m["sweep"], np.nan, reason=f"no {m['sweep']} rates at this scale")]
    bounds = m["estimators"]
    sel = df[(df["sweep"] == m["sweep"]) & df["estimator"].isin(list(bounds))]
    if "samplers" in m:
        sel = sel[sel["sampler"].isin(m["samplers"])]
    out = []
    for r in sel.itertuples():
        n = "exact" if "exact" in str(r.ci_over) else int(r.n_seeds)
        bound = bounds[r.estimator]
        out.append(Condition(
            f"{r.dataset}/{r.sampler}/{r.grid}: {r.estimator} ({bound})", r.tail_slope, r.ci_low,
            r.ci_high, str(r.ci_over) if isinstance(r.ci_over, str) else "", n,
            f"{r.estimator} W2, N {r.tail} (tail); all N: {fmt(r.fit_all)}; floor "
            f"{fmt(r.floor)}",
            role=CONTEXT if bound == "estimate" else JUDGED, regime=regime_of(r),
            upper_bound=bound == "upper", lower_bound=bound == "lower",
            estimate=bound == "estimate", group=f"{r.dataset}/{r.sampler}/{r.grid}", ran=True,
            reason=str(r.note) if isinstance(r.note, str) else ""))  # fmt: skip
    return out or [Condition(m["sweep"], np.nan, reason=f"no {m['sweep']} rates at this scale")]
