"""Proposition 6: the equilibrium violation of Algorithm 1 against the outer iteration K, on its
exact case (no network) and, as context, in the networks' training logs with the DSM floor."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mfgstudy.rates import RateSpec, fit_rate, rate_columns
from mfgstudy.report.claims.measures.common import regime_of
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import CONTEXT, JUDGED, Condition, fmt


def proposition6_exact(ctx) -> list[Condition]:
    """Proposition 6 on its exact case (the proposition6 table: Algorithm 1 without a network
    under the reading with an equilibrium): one judged condition per step size alpha_0 whose
    iteration stays finite; a run that diverges is context, its iteration named."""
    out = []
    for r in ctx.proposition6.itertuples():
        label = (
            f"exact case, {r.method}: alpha_k = alpha_0 / k, alpha_0 = {r.alpha} "
            f"(alpha_0 mu_min {r.alpha0_mu_min:.2g}, alpha_0 mu_max {r.alpha0_mu_max:.2g})"
        )
        if r.diverged_at:
            out.append(Condition(label, np.nan, role=CONTEXT, ran=True,
                                 reason=f"the iteration diverges at k = {int(r.diverged_at)}: "
                                        "no rate"))  # fmt: skip
            continue
        out.append(Condition(
            label, r.tail_slope, r.ci_low, r.ci_high, r.ci_over, "exact",
            f"violation (HJB + terminal + FP residuals, exact) against K, K {r.tail} (tail); "
            f"{fmt(r.violation_first)} at K = 1, {fmt(r.violation_last)} at K = {r.K_max}; "
            f"all K: {fmt(r.fit_all)}",
            regime=regime_of(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out


def _value_target(ctx, method: str) -> str:
    return ctx.mfg_readings.get(method, {}).get("value_target", "")


def _dsm_floors(ctx, var: str) -> dict:
    """Per (data set, lr schedule): the control's (value_target off: Algorithm 1 is denoising
    score matching, the same network and budget) last value of ``var``, mean over seeds: below
    it a residual measures the network's capacity, not the algorithm."""
    floors = {}
    for (dataset, method), logs in ctx.train_logs.items():
        if _value_target(ctx, method) != "off" or var not in logs[0]:
            continue
        schedule = logs[0].attrs.get("reading_lr_schedule", "?")
        floors[(dataset, schedule)] = float(np.mean([lg[var].values[-1] for lg in logs]))
    return floors


@measure("violation_slope")
def violation_slope(m: dict, ctx) -> list[Condition]:
    """Proposition 6 only under its hypothesis: Algorithm 1 runs with step sizes O(1/k). Judged:
    the exact case (``proposition6_exact``), where the violation is computed without a network
    over thousands of iterations. Context: the network runs, one condition per (data set,
    reading, violation metric), read at the doublings K = 1, 2, 4, 8, ... (between consecutive K
    the local slope is noise); each metric's standard error is its floor, and so is the value the
    control (V = 0: denoising score matching, the same network and budget) reaches, below which
    a residual says nothing about the algorithm. Without an exact case the network runs'
    residuals are judged."""
    exact = proposition6_exact(ctx)
    out = list(exact)
    network_role = CONTEXT if any(c.role == JUDGED for c in exact) else JUDGED
    for (dataset, method), logs in ctx.train_logs.items():
        schedule = logs[0].attrs.get("reading_lr_schedule", "?")
        if schedule not in m["lr_schedules"]:
            continue  # outside the proposition's hypothesis: not a condition of this claim
        k_all = logs[0]["outer_iter"].values.astype(float)
        pick = np.isin(k_all, 2.0 ** np.arange(20))  # doublings: local slopes of K, 2K
        k = k_all[pick]
        for role, variables in ((network_role, m["variables"]), (CONTEXT, m.get("context", []))):
            for var in variables:
                if var not in logs[0]:
                    why = f"{var} not logged (no closed-form law)"
                    out.append(Condition(f"{dataset}/{method}: {var}", np.nan, role=role,
                                         reason=why))  # fmt: skip
                    continue
                curves = np.array([lg[var].values[pick] for lg in logs])
                se_var = var.removesuffix("_rms") + "_se"
                floor = (
                    np.mean([lg[se_var].values[pick] for lg in logs], 0)
                    if se_var in logs[0]
                    else None
                )
                dsm = _dsm_floors(ctx, var).get((dataset, schedule))
                if _value_target(ctx, method) == "off":
                    dsm = None  # the control is the floor itself
                if dsm is not None:
                    floor = np.maximum(floor if floor is not None else 0.0, dsm)
                rate = fit_rate(k, curves, RateSpec.from_dict(ctx.rates), resampling="seeds",
                                floor=floor)  # fmt: skip
                r = SimpleNamespace(**rate_columns(rate))
                regime = regime_of(r)
                if regime is not None:
                    regime["grid"] = f"K = 1 to {int(k.max())}"
                last = float(curves[:, -1].mean())
                floor_txt = f", floor (se) {fmt(floor[-1])}" if floor is not None else ""
                if dsm is not None:
                    floor_txt += f"; the control's (denoising score matching) {fmt(dsm)}"
                out.append(Condition(
                    f"{dataset}/{method} (lr {schedule}): {var}", rate.slope, rate.ci_low,
                    rate.ci_high, r.ci_over, len(logs),
                    f"{var} against K, K {r.tail} (tail); at K = {int(k.max())}: "
                    f"{fmt(last)}{floor_txt}; all K: {fmt(rate.fit_all)}",
                    role=role, regime=regime, ran=True, reason=rate.note))  # fmt: skip
    return out or [Condition("Algorithm 1 with lr O(1/k)", np.nan,
                             reason="no Algorithm 1 run with step sizes O(1/k)")]  # fmt: skip
