"""The PDE paper's Theorem 2 on a Dirac law: closed-form W2 of each N-step sampler's law."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mfgstudy.rates import RateSpec, fit_rate, rate_columns
from mfgstudy.report.claims.measures.common import regime_of
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition, fmt


@measure("dirac_law", evidence=("dirac_theorem2",))
def dirac_law(m: dict, ctx) -> list[Condition]:
    """Theorem 2 of the PDE paper on a Dirac law: the closed-form W2 of each N-step sampler's law
    to the law (4.12) (the dirac table). ``statistic``: ``max`` (the largest W2 over N: a scheme
    claimed exact) or ``slope`` (the rate in N, ``mfgstudy.rates``: the N-step laws converge to
    it). Closed forms: the interval is the point."""
    df = ctx.dirac
    if df.empty:
        return [Condition("Dirac law", np.nan, reason="no Dirac study at this scale")]
    out = []
    for (method, sampler, grid), g in df[df["sampler"].isin(m["samplers"])].groupby(
        ["method", "sampler", "grid"]
    ):
        g = g.sort_values("steps")
        n, w2 = g["steps"].to_numpy(float), g["w2_to_theorem2"].to_numpy(float)
        label = f"{method}/{sampler}/{grid}"
        values = ", ".join(f"N={int(k)}: {fmt(v)}" for k, v in zip(n, w2, strict=True))
        if m["statistic"] == "max":
            worst = float(np.max(w2))
            out.append(Condition(f"{label}: max over N of W2 to (4.12)", worst, worst, worst,
                                 "exact (closed form, no sampling)", "exact",
                                 f"closed-form W2 of the N-step law to (4.12): {values}",
                                 ran=True))  # fmt: skip
            continue
        rate = fit_rate(n, w2, RateSpec.from_dict(ctx.rates), resampling="exact")
        r = SimpleNamespace(**rate_columns(rate))
        out.append(Condition(
            f"{label}: W2 to (4.12) against N", rate.slope, rate.ci_low, rate.ci_high,
            r.ci_over, "exact", f"closed-form W2, N {r.tail} (tail); all N: "
            f"{fmt(rate.fit_all)}; {values}",
            regime=regime_of(r), ran=True, reason=rate.note))  # fmt: skip
    return out or [Condition("Dirac law", np.nan, reason=f"no sampler of {m['samplers']} run")]
