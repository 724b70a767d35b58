"""Concentration at rate sqrt(t): the exponent of the mean distance to the support in the
stopping time, under the exact score."""

from __future__ import annotations

import numpy as np

from mfgstudy.report.claims.measures.common import regime_of
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition, fmt

# what each concentration statistic measures the distance to (the concentration table's support)
SUPPORTS = {
    "support_distance_mean": "the law's support (the black cells: full dimension)",
    "train_distance_mean": "the training points (dimension 0: where the sqrt(t) rate is sharp)",
}


@measure("concentration_exponent", evidence=("concentration", "fig_concentration"))
def concentration_exponent(m: dict, ctx) -> list[Condition]:
    """The exponent of the mean distance to the data support in the stopping time t -> 0, per
    method (the concentration table: ``mfgstudy.rates`` tail slope, regime, interval over
    seeds)."""
    df = ctx.concentration
    if df.empty:
        return [Condition("concentration", np.nan, reason="no concentration study at this scale")]
    out = []
    for r in df.itertuples():
        ci_over = r.ci_over if isinstance(r.ci_over, str) else ""
        support = SUPPORTS.get(r.support, r.support)
        out.append(Condition(
            f"{r.method}: distance to {support}", r.tail_slope, r.ci_low,
            r.ci_high, ci_over, int(r.n_seeds),
            f"mean distance against t_stop, t {r.tail} (tail); all t: {fmt(r.fit_all)}",
            regime=regime_of(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out
