"""Theorem 4 on its own statement: the exponent of sup_t W2 between the equilibria of the
perturbed and the unperturbed cost (exact computations)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mfgstudy.report.claims.measures.common import regime_of
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition, fmt


@measure(
    "cost_perturbation", evidence=("theorem4_cost_perturbation", "fig_theorem4_cost_perturbation")
)
def cost_perturbation(m: dict, ctx) -> list[Condition]:
    """Theorem 4 on its own statement: the exponent of sup_t W2 between the equilibrium of the
    perturbed cost L + delta and the unperturbed one, per family of ``families``, for the reading
    ``method`` (the perturbed-cost table: exact computations, the interval is the point)."""
    df, method = ctx.cost_perturbation, m["method"]
    label = f"{method}: perturbed-cost equilibrium"
    if df.empty:
        return [Condition(label, np.nan, reason="no perturbed-cost study at this scale")]
    rows = df[(df["method"] == method) & df["family"].isin(m["families"])]
    if rows.empty:
        return [Condition(label, np.nan, reason=f"{method} not computed: add it to "
                          "cost_perturbation.methods")]  # fmt: skip
    out = []
    for row in rows.to_dict("records"):  # "lambda" is a column: dicts, not namedtuples
        r = SimpleNamespace(**row)
        text = f"{method} ({r.value_target}, {r.weighting}, lambda {row['lambda']:g}): {r.family}"
        if not np.isfinite(row.get("exponent", np.nan)):
            why = r.note if isinstance(r.note, str) else "no value"
            if not r.exists:
                why += f" (blow-up at t = {r.t_blowup:.4g}): Theorem 4 has no object here"
            out.append(Condition(text, np.nan, reason=why))
            continue
        out.append(Condition(
            text, r.exponent, r.ci_low, r.ci_high, r.ci_over, "exact",
            f"sup_t W2 of the perturbed equilibrium's law to the unperturbed one, eps {r.tail} "
            f"(tail of {r.eps_fitted}); all eps: {fmt(r.fit_all)}; W2 / eps at the smallest eps "
            f"{fmt(r.w2_over_eps_smallest)}; refinement change up to "
            f"{fmt(r.check_max_rel_change)}",
            regime=regime_of(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out
