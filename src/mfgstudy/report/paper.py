"""Tables and figures, drawn only from the metrics cube (and the convergence stores).

W2-vs-N rates go through ``mfgstudy.rates``: local slopes between consecutive N, the tail slope
over the last points, the regime test, exclusion of unstable points and of N where the
estimator cannot see the discretisation error:

* ``uncoupled`` (EMD to an independent data sample): N whose mean stands below
  ``floor_factor`` times the measured finite-sample floor are not used;
* ``coupled`` (same Brownian path as the fine reference run): only N <= ``coupled_max_fraction``
  x reference_steps, where the reference's own error is small beside the N-step error, and
  above ``floor_factor`` times the estimate's Monte-Carlo standard error; an upper bound on W2;
* ``closed_form`` (Gaussian data law, exact oracle): exact, used above round-off
  (``ROUND_OFF``; the exponential integrator is exact for a Dirac law). The Theorem 2 curves of
  ``mfgstudy.analysis.convergence`` extend N until the regime test passes.

The interval of a tail slope is over seeds (jackknife-t, at least ``rates.min_seeds`` seeds) or
exact for a closed form; every row names which.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from mfgstudy.metrics import CONFIDENCE
from mfgstudy.rates import Rate, fit_rate, rate_columns
from mfgstudy.report.common import (
    mean_sd,
    pyplot,
    rate_spec,
    row_label,
    save_figure,
    seaborn,
    write_table,
)
from mfgstudy.store import atomic_path, open_groups, open_store

log = logging.getLogger(__name__)

ESTIMATORS = {"uncoupled": "w2_uncoupled", "coupled": "w2_coupled", "closed_form": "w2_closed"}
ROUND_OFF = 1e-7  # W2 is a square root: variances equal to round-off (1e-16) give ~1e-8
RATE_COLUMNS = ["tail_slope", "ci_low", "ci_high", "ci_over", "regime", "regime_test",
                "local_slopes", "tail", "fit_all", "n_seeds", "excluded", "note"]  # fmt: skip


def n_rate(estimator: str, steps, curves, spec: dict, floor=np.nan, reference_steps=None,
           se=None, **override) -> Rate:  # fmt: skip
    """The rate in N of one (seed, steps) curve of ``estimator`` (see the module docstring)."""
    steps, curves = np.asarray(steps, float), np.atleast_2d(np.asarray(curves, float))
    rs = rate_spec(spec, **override)
    if estimator == "closed_form":
        return fit_rate(steps, curves, rs, resampling="exact", floor=ROUND_OFF)
    if estimator == "coupled":
        keep = steps <= spec["coupled_max_fraction"] * (reference_steps or np.inf)
        fl = np.nan if se is None else np.asarray(se, float)[keep]
        return fit_rate(steps[keep], curves[:, keep], rs, resampling="seeds", floor=fl)
    return fit_rate(steps, curves, rs, resampling="seeds", floor=floor)


def fit_slopes(cubes: dict, spec: dict, convergence: dict | None = None) -> pd.DataFrame:
    """Rates in N for every (sweep, dataset, method, sampler, grid) curve of every estimator,
    and for the closed-form Theorem 2 curves of ``convergence`` ({name: store path})."""
    rows = []
    for est, var in ESTIMATORS.items():
        for sweep, cube in cubes.items():
            if var not in cube or "eps" in cube.dims:  # perturbation sweeps: fitted against eps
                continue
            ref = spec["reference_steps"].get(str(sweep))
            for dataset, method, sampler, grid in _combos(cube, var):
                sel = {"dataset": dataset, "method": method, "sampler": sampler, "grid": grid}
                da = cube[var].sel(sel).dropna("steps", how="all").dropna("seed", how="all")
                se = None
                if est == "coupled" and "w2_coupled_se" in cube:
                    se_da = cube["w2_coupled_se"].sel(sel).sel(steps=da.steps, seed=da.seed)
                    se = se_da.mean("seed").values
                floor = _floor(cube, dataset)
                rate = n_rate(est, da.steps.values, da.transpose("seed", "steps").values, spec,
                              floor=floor, reference_steps=ref, se=se)  # fmt: skip
                rows.append(dict(sweep=sweep, estimator=est, floor=floor if est == "uncoupled"
                                 else np.nan, **sel, **rate_columns(rate)))  # fmt: skip
    for name, path in (convergence or {}).items():
        rows += convergence_rows(name, path, spec)
    cols = ["sweep", "dataset", "method", "sampler", "grid", "estimator", *RATE_COLUMNS, "floor"]
    return pd.DataFrame(rows).reindex(columns=cols)


def convergence_rows(name: str, path: str, spec: dict) -> list[dict]:
    """Rate rows of a Theorem 2 convergence store (``mfgstudy.analysis.convergence``): the closed
    form on a Gaussian (exact), or the law-level W2 between successive refinements on a mixture (its
    jackknife over sample blocks, its standard error as the floor)."""
    ds = open_store(path)
    # the closed form's doubling stopped on its own exact tolerance: the table reads it the same way
    override = {k: ds.attrs[k] for k in ("regime_tol_exact",) if k in ds.attrs}
    keys = dict(sweep=f"convergence_{name}", dataset=ds.attrs["dataset"], method=ds.attrs["method"])
    rows = []
    if "w2_law" in ds:  # the mixture: law level, noisy
        for sampler in ds.sampler.values:
            sel = ds.sel(sampler=sampler)
            reps = sel["w2_law_jackknife"].transpose("block", "steps").values
            rate = fit_rate(sel.steps.values, reps, rate_spec(spec, **override),
                            resampling="jackknife", floor=sel["w2_law_se"].values,
                            point=sel["w2_law"].values)  # fmt: skip
            floor = float(sel["w2_law_se"].mean())
            rows.append(dict(keys, sampler=str(sampler), grid=ds.attrs["grid"], estimator="law",
                             floor=floor, **rate_columns(rate)))  # fmt: skip
            if "w2_transfer" in sel and np.isfinite(sel["w2_transfer"]).any():
                reps = sel["w2_transfer_jackknife"].transpose("block", "steps").values
                se = sel["w2_transfer_se"].values
                rate = fit_rate(sel.steps.values, reps, rate_spec(spec, **override),
                                resampling="jackknife", floor=se,
                                point=sel["w2_transfer"].values)  # fmt: skip
                rows.append(dict(keys, sampler=str(sampler), grid=ds.attrs["grid"],
                                 estimator="transfer", floor=float(np.nanmean(se)),
                                 **rate_columns(rate)))  # fmt: skip
        if "w2_exact" in ds:  # the same distance without sampling noise (quadrature)
            for sampler in ds["w2_exact"].dropna("sampler", how="all").sampler.values:
                da = ds["w2_exact"].sel(sampler=sampler).dropna("steps_exact")
                rate = fit_rate(da.steps_exact.values, da.values, rate_spec(spec, **override),
                                resampling="exact", floor=ROUND_OFF)  # fmt: skip
                rows.append(dict(keys, sampler=str(sampler), grid=ds.attrs["grid"],
                                 estimator="exact", floor=float(np.nanmax(
                                     ds["quadrature_change_exact"].sel(sampler=sampler))),
                                 **rate_columns(rate)))  # fmt: skip
        return rows
    for sampler in ds.sampler.values:
        for grid in ds.grid.values:
            da = ds["w2_closed"].sel(sampler=sampler, grid=grid).dropna("steps")
            rate = n_rate("closed_form", da.steps.values, da.values, spec, **override)
            rows.append(dict(keys, sampler=str(sampler), grid=str(grid), estimator="closed_form",
                             floor=np.nan, **rate_columns(rate)))  # fmt: skip
    return rows


def _combos(cube, var):
    present = cube[var].notnull().any(["seed", "steps"]).to_dataframe(name="present")
    present = present[present["present"]].reset_index()
    for r in present.itertuples():
        yield r.dataset, r.method, r.sampler, r.grid


def _floor(cube, dataset) -> float:
    if "w2_floor_mean" not in cube:
        return np.nan
    return float(cube["w2_floor_mean"].sel(dataset=dataset))


def slopes_table(cube_path: str, spec: dict, csv: str, md: str,
                 convergence: list[str] = ()) -> pd.DataFrame:  # fmt: skip
    df = fit_slopes(open_groups(cube_path), spec, _convergence(convergence))
    write_table(
        df, csv, md, "W2 against N: rates in their asymptotic regime",
        "tail_slope: log-log slope of the seed-mean W2 over the last points of N (`tail`); "
        "local_slopes: between consecutive N; regime: whether the last two local slopes agree "
        "(mfgstudy.rates); fit_all: one line through every usable N, shown, never judged. N "
        "below the estimator's floor or pre-asymptotic (error growing with N) are `excluded`. "
        "CI: jackknife over seeds (>= 5 seeds; fewer: no CI) or exact for a closed form "
        "(`ci_over`). Sweeps convergence_*: closed-form W2 with N doubled until the regime "
        "test passes. The paper claims O(1/N) convergence.",
    )  # fmt: skip
    log.info("slopes:\n%s", df.to_string())
    return df


def convergence_table(paths: list[str], csv: str, md: str) -> pd.DataFrame:
    """Every value of the Theorem 2 convergence curves beside its estimator's floor."""
    frames = []
    for name, path in _convergence(paths).items():
        ds = open_store(path)
        if "w2_law" in ds:
            df = ds[["w2_law", "w2_law_se", "weight_term", "within_term", "w2_coupled"]]
            df = df.to_dataframe().reset_index().rename(columns={"w2_law": "w2",
                                                                 "w2_law_se": "floor"})  # fmt: skip
            df = df.assign(grid=ds.attrs["grid"], estimator="law-level W2(law_N, law_2N)")
        else:
            df = ds["w2_closed"].to_dataframe(name="w2").reset_index().dropna(subset=["w2"])
            df = df.assign(floor=ds.attrs["round_off"], estimator="closed form to the limit")
        frames.append(df.assign(study=name, law=ds.attrs["dataset"]))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    first = ["study", "law", "sampler", "grid", "steps", "estimator", "w2", "floor"]
    df = df[[c for c in first if c in df] + [c for c in df if c not in first]]
    write_table(
        df, csv, md, "Theorem 2: W2 against N, every value beside its estimator's floor",
        "gaussian: closed-form W2 of the N-step law to the sampler's continuous-time limit "
        "(floor: round-off); mixture: law-level W2 between the N- and 2N-step laws "
        "(mfgstudy.metrics.mixture_w2; floor: its jackknife standard error over sample blocks; "
        "weight_term: mass moved between modes, within_term: within the modes; w2_coupled: the "
        "RMS distance of the same coupled pairs, an upper bound).",
        floatfmt=".4g",
    )  # fmt: skip
    return df


def _convergence(paths) -> dict:
    """{name: path} of the convergence stores (results/convergence/{name}.zarr)."""
    from pathlib import Path

    return {Path(p).name.removesuffix(".zarr"): p for p in paths or []}


def figure1(cube_path: str, spec: dict, png: str, pdf: str, convergence: list[str] = ()) -> None:
    """W2 against N for every sampler and grid (log-log), O(1/N) line, floor, tail slopes with
    local slopes and the regime test; a last row with the extended closed-form curves."""
    plt = pyplot()
    cubes = open_groups(cube_path)
    fig_spec = spec["figure1"]
    sub = cubes[fig_spec["sweep"]].sel({"method": fig_spec["method"]})
    conv = _convergence(convergence)
    slopes = fit_slopes({fig_spec["sweep"]: cubes[fig_spec["sweep"]]}, spec, conv)
    ests = [e for e, v in ESTIMATORS.items() if v in sub and sub[v].notnull().any()]
    datasets = [
        d
        for d in sub.dataset.values
        if any(sub[ESTIMATORS[e]].sel(dataset=d).notnull().any() for e in ests)
    ]
    n_rows = len(ests) + (1 if conv else 0)
    n_cols = max(len(datasets), len(conv))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.8 * n_cols, 5.2 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    for i, est in enumerate(ests):
        for j, ds_name in enumerate(datasets):
            df = (
                sub[ESTIMATORS[est]]
                .sel(dataset=ds_name)
                .to_dataframe(name="W2")
                .reset_index()
                .dropna(subset=["W2"])
            )
            if df.empty:
                continue
            sel = slopes[(slopes.sweep == fig_spec["sweep"]) & (slopes.dataset == ds_name)
                         & (slopes.estimator == est)]  # fmt: skip
            _w2_panel(axes[i, j], df, sel, f"{ds_name}: {est}", est, legend=(i == 0 and j == 0))
            if est == "uncoupled":
                _floor_band(axes[i, j], sub, ds_name)
    for j, (name, path) in enumerate(conv.items()):
        ds = open_store(path)
        sel = slopes[slopes.sweep == f"convergence_{name}"]
        if "w2_law" in ds:  # the mixture: law level between successive refinements
            df = ds["w2_law"].to_dataframe(name="W2").reset_index().assign(grid=ds.attrs["grid"])
            title = f"{ds.attrs['dataset']}: law-level W2(N, 2N), band 2 se (Theorem 2)"
            _w2_panel(axes[-1, j], df, sel, title, "law", legend=True)
            for sampler in ds.sampler.values:
                d = ds.sel(sampler=sampler)
                lo, hi = d["w2_law"] - 2 * d["w2_law_se"], d["w2_law"] + 2 * d["w2_law_se"]
                lo = np.maximum(lo, d["w2_law"] / 10)  # a band reaching 0 is drawn to W2 / 10
                axes[-1, j].fill_between(d.steps, lo, hi, alpha=0.2, lw=0)
                axes[-1, j].plot(d.steps, d["w2_coupled"], ":", lw=0.8, color="0.4")
            axes[-1, j].set_ylabel("W2(law_N, law_2N); dotted: coupled pathwise")
            continue
        df = ds["w2_closed"].to_dataframe(name="W2").reset_index().dropna(subset=["W2"])
        title = f"{ds.attrs['dataset']}: closed form, N extended (Theorem 2)"
        _w2_panel(axes[-1, j], df, sel, title, "closed_form", legend=True)
    fig.suptitle(
        f"W2 against the number of steps N ({fig_spec['method']} score, sweep {fig_spec['sweep']});"
        " dashed: O(1/N); grey: finite-sample floor; text: tail slope [CI], local slopes, regime",
        y=1.0,
    )
    fig.tight_layout()
    save_figure(fig, png, pdf, tight=True)


def _w2_panel(ax, df, sel, title: str, est: str, legend: bool) -> None:
    sns = seaborn()
    ax.set_visible(True)
    sns.lineplot(data=df, x="steps", y="W2", hue="sampler", style="grid", markers=True,
                 errorbar="sd", ax=ax, legend=legend)  # fmt: skip
    _reference_line(ax, df)
    _log_axes(ax, df.steps.unique())
    ax.set(title=title, xlabel="N (steps)")
    ax.set_ylabel("W2" + (" (upper bound)" if est == "coupled" else ""))
    if legend and ax.get_legend() is not None:
        ax.legend(fontsize=6, loc="lower left")
    ax.text(0.0, -0.16, _slope_text(sel), transform=ax.transAxes, fontsize=5.5, va="top",
            family="monospace")  # fmt: skip


def _log_axes(ax, steps) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator, ScalarFormatter

    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(int(n) for n in steps))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _reference_line(ax, df) -> None:
    n0 = df.steps.min()
    y0 = float(np.exp(np.log(df[df.steps == n0].W2).mean()))
    ns = np.array(sorted(df.steps.unique()), dtype=float)
    ax.plot(ns, y0 * n0 / ns, "k--", lw=1, label="O(1/N)")


def _floor_band(ax, sub, ds_name) -> None:
    if "w2_floor_mean" not in sub:
        return
    m, s = (
        float(sub["w2_floor_mean"].sel(dataset=ds_name)),
        float(sub["w2_floor_sd"].sel(dataset=ds_name)),
    )
    ax.axhspan(m - s, m + s, color="0.6", alpha=0.4, lw=0)
    ax.axhline(m, color="0.4", lw=1)


def _slope_text(sel: pd.DataFrame) -> str:
    lines = []
    for r in sel.itertuples():
        if not np.isfinite(r.tail_slope):
            lines.append(f"{r.sampler[:9]:9s} {r.grid[:7]:7s}   n/a ({r.note[:40]})")
            continue
        ci = f" [{r.ci_low:+.2f},{r.ci_high:+.2f}]" if np.isfinite(r.ci_low) else " (no CI)"
        loc = [p.split(": ")[1] for p in r.local_slopes.split("; ")][-3:]
        mark = "ok" if r.regime == "passed" else "NOT asymptotic"
        lines.append(f"{r.sampler[:9]:9s} {r.grid[:7]:7s} {r.tail_slope:+.2f}{ci} N {r.tail}"
                     f" local {','.join(loc)} {mark}")  # fmt: skip
    return "tail slope [95% CI], last local slopes, regime test\n" + "\n".join(lines)


# Table 1's columns, in order: the digits feature space, then Inception where configured
IMAGE_METRICS = [
    "fd_digits", "is_digits", "precision_digits", "recall_digits", "density_digits",
    "coverage_digits", "confident_fraction", "fid", "inception_score", "precision_inception",
    "recall_inception", "density_inception", "coverage_inception",
]  # fmt: skip


def table1(cube_path: str, csv: str, md: str, tex: str) -> pd.DataFrame:
    """Table 1: every image metric per data set and method, mean ± sd over seeds (unperturbed
    sweeps), with the real-data row: the held-out test split against the training split."""
    cubes = open_groups(cube_path)
    keys = ["sweep", "dataset", "method", "sampler", "grid", "steps"]
    rows = []
    for name, c in cubes.items():
        present = [m for m in IMAGE_METRICS if m in c]
        if not present or "eps" in c.dims:
            continue
        long = c[present].to_dataframe().reset_index().assign(sweep=name)
        long = long.dropna(subset=[present[0]])
        for key, g in long.groupby(keys):
            row = dict(zip(keys, key, strict=True), seeds=len(g))
            row["label"] = row_label(row["method"], row["sampler"])
            for m in present:
                row[f"{m}_mean"] = g[m].mean()
                row[f"{m}_sd"] = g[m].std(ddof=1) if len(g) > 1 else np.nan
            rows.append(row)
        for d in long["dataset"].unique():
            floor = {f"{m}_mean": float(c[f"{m}_floor"].sel(dataset=d))
                     for m in present if f"{m}_floor" in c}  # fmt: skip
            floor |= {f"{m}_sd": float(c[f"{m}_floor_sd"].sel(dataset=d))
                      for m in present if f"{m}_floor_sd" in c}  # fmt: skip
            rows.append({"sweep": name, "dataset": d, "method": "real data (test split)",
                         "label": "real data (test split)", "seeds": 0, **floor})  # fmt: skip
    df = pd.DataFrame(rows)
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    shown = pd.DataFrame(columns=["dataset", "method"])
    if not df.empty:
        metrics = [m for m in IMAGE_METRICS if f"{m}_mean" in df]
        df = df.drop_duplicates(subset=["dataset", "label", "sampler", "steps"])  # one real row
        shown = df[["dataset", "label", "sampler", "steps", "seeds"]].rename(
            columns={"label": "method"}
        )
        for m in metrics:
            sd = df[f"{m}_sd"] if f"{m}_sd" in df else np.nan
            shown[m] = [mean_sd(a, b) for a, b in zip(df[f"{m}_mean"], sd * np.ones(len(df)),
                                                       strict=True)]  # fmt: skip
    write_table(
        shown, None, md, "Table 1: image metrics per method",
        "Generated samples against the training split's reference statistics, through "
        "clean-fid (mode clean) and prdc (k = 5): fd/is/precision/recall/density/coverage_digits "
        "use the pipeline's digits classifier as feature extractor (FD-digits, IS-digits: not FID "
        "or IS); fid, inception_score, ..._inception use clean-fid's Inception weights where "
        "configured. confident_fraction: share of samples the digits classifier labels with "
        f"probability > {CONFIDENCE}. Mean ± sd over seeds. 'real data': the held-out test "
        "split, ± the sd of the metric over disjoint sets of as many training images: the "
        "metric's own spread at this sample size (the ledger lets a comparison decide only where "
        "the two means differ by more than twice it).",
        tex=tex,
    )  # fmt: skip
    return df
