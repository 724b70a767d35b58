"""The PDE-perspective experiments (sections 4.2-4.5 and the concentration abstract):

* Dirac data law: W2 of the N-step Euler-Maruyama and exponential-integrator laws to the
  closed-form reverse law of Theorem 2 (eq. 4.12), per N;
* memorisation: share of samples within delta of a training point against the number M of
  training points and the stopping time, for the exact empirical score and a trained network,
  as drawn and after one Tweedie step (``mfgstudy.metrics.memorisation``), each beside the
  share for fresh draws of the law stopped at the same time (what a model that generalises
  would give);
* concentration: mean distance of the samples to the data support against the stopping time t,
  with the exponent towards t -> 0 (``mfgstudy.rates``: tail slope, local slopes, regime test,
  an interval over >= 5 seeds), to set beside sqrt(t) (judged in the claims ledger). The
  support is the law's (black cells) for the exact law's score, and the training points for
  the empirical score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mfgstudy.rates import fit_rate, rate_columns
from mfgstudy.report.common import pyplot, rate_spec, save_figure, seaborn, write_table
from mfgstudy.store import open_groups


def dirac_table(cube_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    cube = open_groups(cube_path)[spec["sweep"]]
    df = cube["w2_closed"].mean("seed").to_dataframe(name="w2_to_theorem2").reset_index()
    df = df.dropna(subset=["w2_to_theorem2"])[["method", "sampler", "grid", "steps",
                                                "w2_to_theorem2"]]  # fmt: skip
    write_table(
        df, csv, md, "Dirac data law: N-step samplers against Theorem 2",
        "Closed-form W2 between the N-step law (exact score, start N(0, I)) and the exact reverse "
        "law of the PDE paper's Theorem 2 (eq. 4.12) at the stopping time. The exponential "
        "integrator is exact for a Dirac law (its x0 estimate is constant): W2 at round-off.",
        floatfmt=".3g",
    )  # fmt: skip
    return df


MEMORISATION_VARS = [
    "memorised_fraction", "memorised_fraction_fresh", "memorised_fraction_tweedie",
    "memorised_fraction_fresh_tweedie", "memorised_fraction_data", "train_distance_mean",
]  # fmt: skip


T_FMT = "g"  # stopping times in tables: 1e-4 prints as 0.0001 (".3f" would print 0.000)


def t_label(t: float) -> str:
    """A stopping time as the tables print it."""
    return f"{float(t):{T_FMT}}"


def memorisation_table(cube_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    cube = open_groups(cube_path)[spec["sweep"]]
    names = [v for v in MEMORISATION_VARS if v in cube]  # a cube from before a variable existed
    df = cube[names].mean("seed").isel(steps=-1).to_dataframe().reset_index()
    df = df.dropna(subset=["memorised_fraction"])
    df.insert(1, "M", df["dataset"].map(spec["n_train"]))
    df.insert(4, "t_stop", df["grid"].map(spec["t_stop"]).astype(float))
    df = df.sort_values(["method", "M", "t_stop"])[["method", "M", "t_stop", *names, "dataset",
                                                    "grid"]]  # fmt: skip
    write_table(
        df, csv, md, "Memorisation: exact empirical score against a trained network",
        f"Share of samples within {spec['delta']} of one of the M training points, sampling "
        "stopped at t_stop. `memorised_fraction`: the samples as drawn; `_tweedie`: after one "
        "Tweedie step to t = 0 with the sampler's own score, (x + sigma_t^2 s(x, t)) / alpha_t "
        "at t = t_stop (for the exact empirical score: the kernel average of the training "
        "points, PDE paper eq. 4.36). Beside each, what a perfect generator that does not "
        "memorise would score: `_fresh`, fresh draws of the law diffused to t_stop; "
        "`_fresh_tweedie`, those denoised with the law's exact score. "
        "`memorised_fraction_data`: fresh draws at t = 0. Mean over seeds.",
        floatfmt=[T_FMT if c == "t_stop" else ".3f" for c in df.columns],
    )  # fmt: skip
    return df


def concentration_fits(cube, spec: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long table of mean distance per method, t_stop and seed; the rate towards t -> 0)."""
    rows, fits = [], []
    for method, var in spec["distance"].items():
        da = cube[var].sel({"method": method}).isel(steps=-1)
        da = da.squeeze([d for d in da.dims if d not in ("grid", "seed")], drop=True)
        for g in da.grid.values:
            for s in da.seed.values:
                v = float(da.sel(grid=g, seed=s))
                if np.isfinite(v):
                    rows.append(dict(method=method, t_stop=spec["t_stop"][str(g)], seed=int(s),
                                     distance=v, support=var))  # fmt: skip
    long = pd.DataFrame(rows)
    rs = rate_spec(spec["fit"], limit="small")
    for method, grp in long.groupby("method"):
        piv = grp.pivot(index="seed", columns="t_stop", values="distance")
        rate = fit_rate(piv.columns.values.astype(float), piv.values, rs, resampling="seeds")
        fits.append(dict(method=method, support=grp.support.iloc[0], exponent=rate.slope,
                         **rate_columns(rate)))  # fmt: skip
    return long, pd.DataFrame(fits)


def concentration(cube_path: str, spec: dict, csv: str, md: str, png: str, pdf: str) -> None:
    plt = pyplot()
    sns = seaborn()
    cube = open_groups(cube_path)[spec["sweep"]]
    long, fits = concentration_fits(cube, spec)
    write_table(
        fits, csv, md, "Concentration on the data support against the stopping time",
        "Exponent a of mean distance ~ t^a towards t -> 0: the tail slope of log(mean over "
        "seeds) on log t_stop over the smallest stopping times, with local slopes and the "
        "regime test (mfgstudy.rates); fit_all: one line through every t, shown, never judged; "
        "CI: jackknife over seeds (>= 5; fewer: none). The PDE paper's sqrt(t) is judged in "
        "the claims ledger. Support: "
        "the law's black cells (`support_distance_mean`) or the training points "
        "(`train_distance_mean`). Exact scores, exponential integrator, EDM grid to t_stop; the "
        "claim is for the OU process of the PDE paper, where sigma_t^2 ~ 2t at small t.",
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    sns.lineplot(data=long, x="t_stop", y="distance", hue="method", marker="o",
                 errorbar="sd", ax=ax)  # fmt: skip
    t = np.array(sorted(long.t_stop.unique()))
    y0 = long[long.t_stop == t[0]].distance.mean()
    ax.plot(t, y0 * np.sqrt(t / t[0]), "k--", lw=1, label="sqrt(t) (claimed)")
    ax.set(xscale="log", yscale="log", xlabel="stopping time t", ylabel="mean distance to support")
    text = "\n".join(f"{r.method}: a = {r.exponent:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}], "
                     f"t {r.tail}, regime {r.regime}; all t {r.fit_all:.2f}"
                     for r in fits.itertuples())  # fmt: skip
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=7, family="monospace")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Concentration on the data support (exact score)")
    fig.tight_layout()
    save_figure(fig, png, pdf, tight=True)
