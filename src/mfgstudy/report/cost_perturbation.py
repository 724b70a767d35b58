"""Theorem 4 on its own statement: the table and figure of the perturbed-cost equilibria (from the
``mfgstudy.analysis.cost_perturbation`` store).

Per reading of Algorithm 1 and perturbation family: the exponent of sup_t W2(mu_eps,t, mu_t) in
eps -> 0 (``mfgstudy.rates``, exact resampling: a deterministic computation), its local slopes
and regime test, the points the refinement check excluded, and K = the response over eps (or
over sqrt(eps) for the worst case of the s-dependent family) at the smallest eps.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from mfgstudy.rates import fit_rate, rate_columns
from mfgstudy.report.common import pyplot, rate_spec, save_figure, write_table
from mfgstudy.store import open_store

log = logging.getLogger(__name__)

EPS_FIT_MAX = 0.1


def cost_perturbation_rows(store_path: str, spec: dict) -> pd.DataFrame:
    """One row per (method, family): the reading, existence and the rate in eps."""
    ds = open_store(store_path)
    rs = rate_spec(spec, limit="small")
    fit_max = spec.get("eps_fit_max", EPS_FIT_MAX)
    eps = ds["eps"].values
    fit = (eps > 0) & (eps <= fit_max)
    rows = []
    for method in ds["method"].values:
        m = ds.sel({"method": method})
        reading = {k: m[k].item() for k in ("value_target", "weighting", "lambda", "exists",
                                            "t_blowup")}  # fmt: skip
        for family in ds["family"].values:
            f = m.sel(family=family)
            w2, check = f["w2_sup"].values[fit], f["w2_sup_check"].values[fit]
            base = {"method": str(method), **reading, "family": str(family),
                    "kind": str(f["kind"].item()), "eps_fitted": f"{eps[fit].min():g}-"
                    f"{eps[fit].max():g}"}  # fmt: skip
            if not np.isfinite(w2).any():
                why = ("no equilibrium on [t_min, T]" if not reading["exists"]
                       else "no HJB in this reading: no perturbed equilibrium")  # fmt: skip
                rows.append({**base, "note": why})
                continue
            change = np.abs(check - w2) / w2
            rate = fit_rate(eps[fit], w2, rs, resampling="exact", change=change)
            smallest = int(np.argmin(eps[fit]))
            rows.append({**base, "exponent": rate.slope, **rate_columns(rate),
                         "w2_sup_at_eps_max": float(w2[np.argmax(eps[fit])]),
                         "w2_over_eps_smallest": float(w2[smallest] / eps[fit][smallest]),
                         "t_sup_smallest": float(f["t_sup"].values[fit][smallest]),
                         "check_max_rel_change": float(np.nanmax(change))})  # fmt: skip
    return pd.DataFrame(rows)


def cost_perturbation_table(store_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    df = cost_perturbation_rows(store_path, spec)
    write_table(
        df, csv, md, "Theorem 4: the equilibrium of a perturbed cost (Gaussian data law)",
        "The cost of eq. (29), L + delta with |delta| <= eps, on the Gaussian data law, per "
        "reading of Algorithm 1 whose equilibrium exists: its perturbed equilibrium (the derived "
        "HJB with the perturbed running cost, mfgstudy.analysis.cost_perturbation) against the "
        "unperturbed "
        "one, W2 of their population laws (the generative reverse SDE from N(0, I) under each "
        "equilibrium score) taken sup over t. Families: state, delta(x, t) = eps sin(omega e.x + "
        "phase) (eq. 31's case; perturbed HJB and Fokker-Planck equation solved on a grid); "
        "state_score, delta(x, s, t) = eps phi(e.(s - s*)/rho), phi(u) = -u/sqrt(1+u^2) (eq. 30's "
        "case, closed form: the optimal score moves by a constant d(t) e); state_score_worst, the "
        "same family with the width rho that moves the score most (a lower bound on the sup over "
        "every |delta| <= eps). exponent: tail slope towards eps -> 0 over eps_fitted "
        "(mfgstudy.rates, exact: no sampling; regime test on the last local slopes, tolerance "
        "regime_tol_exact). check_max_rel_change: the response's relative change on a grid twice "
        "as fine in space and time (closed forms: 0); a point that changed by more than "
        "max_refinement_change is excluded. Theorem 4 claims exponent >= 1 for delta(x, t) and "
        ">= 2/3 for delta(x, s, t).",
        floatfmt=".4g",
    )  # fmt: skip
    log.info("perturbed-cost exponents:\n%s", df.to_string())
    return df


def cost_perturbation_figure(store_path: str, png: str, pdf: str) -> None:
    """sup_t W2 against eps (log-log), one panel per reading that has an equilibrium, one line
    per family, with the claimed slopes 1 and 2/3 and the slope 1/2 for reference."""
    plt = pyplot()
    ds = open_store(store_path)
    methods = [m for m in ds["method"].values
               if np.isfinite(ds["w2_sup"].sel({"method": m}).values).any()]  # fmt: skip
    fig, axes = plt.subplots(1, max(len(methods), 1), figsize=(6.5 * max(len(methods), 1), 4.5),
                             squeeze=False)  # fmt: skip
    eps = ds["eps"].values
    for ax, method in zip(axes[0], methods, strict=False):
        m = ds.sel({"method": method})
        for family in ds["family"].values:
            ax.plot(eps, m["w2_sup"].sel(family=family), "o-", ms=3, label=str(family))
        anchor = float(np.nanmedian(m["w2_sup"].values[:, 0]))
        for power, style in ((1.0, "--"), (2.0 / 3.0, ":"), (0.5, "-.")):
            ax.plot(eps, anchor * (eps / eps[0]) ** power, "k" + style, lw=0.8,
                    label=f"slope {power:.2g}")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="eps (|delta| <= eps)",
               ylabel="sup_t W2(perturbed, unperturbed equilibrium)",
               title=f"{method}: {m['value_target'].item()}, {m['weighting'].item()}, "
                     f"lambda {m['lambda'].item():g}")  # fmt: skip
        ax.legend(fontsize=7)
    fig.suptitle("Theorem 4: equilibria of perturbed costs on the Gaussian law")
    fig.tight_layout()
    save_figure(fig, png, pdf)
