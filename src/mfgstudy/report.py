"""Tables and figures, drawn only from the metrics cube.

W2-vs-N slopes: a least-squares line through log(mean W2 over seeds) against log N, fitted only
where the estimator can see the discretisation error:

* ``uncoupled`` (EMD to an independent data sample): only N whose mean stands at least
  ``floor_factor`` times above the measured finite-sample floor;
* ``coupled`` (same Brownian path as the fine reference run): only N <= ``coupled_max_fraction``
  x reference_steps, where the reference's own error is small beside the N-step error;
* ``closed_form`` (Gaussian data law, exact oracle): every N whose W2 is above round-off
  (``ROUND_OFF``; the exponential integrator is exact for a Dirac law).

The CI is a percentile bootstrap over seeds (resample seeds, average, refit). A fit needs
``min_points`` eligible N; otherwise the row says why it has no slope.
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mfgstudy.evaluate import CONFIDENCE  # noqa: E402
from mfgstudy.store import atomic_path, open_groups  # noqa: E402

log = logging.getLogger(__name__)

ESTIMATORS = {"uncoupled": "w2_uncoupled", "coupled": "w2_coupled", "closed_form": "w2_closed"}
ROUND_OFF = 1e-7  # W2 is a square root: variances equal to round-off (1e-16) give ~1e-8


def _slope(steps: np.ndarray, values: np.ndarray) -> float:
    return float(np.polyfit(np.log(steps), np.log(values), 1)[0])


def eligible_steps(estimator: str, steps, mean, floor_mean, reference_steps, spec) -> np.ndarray:
    steps, mean = np.asarray(steps), np.asarray(mean)
    ok = np.isfinite(mean) & (mean > 0)
    if estimator == "closed_form":
        ok &= mean > ROUND_OFF  # an exact sampler's W2 is round-off: no rate to fit
    elif estimator == "uncoupled":
        ok &= mean >= spec["floor_factor"] * floor_mean
    elif estimator == "coupled":
        ok &= steps <= spec["coupled_max_fraction"] * reference_steps
    return ok


def fit_slope(curves: np.ndarray, steps: np.ndarray, mask: np.ndarray, spec: dict, rng) -> dict:
    """curves: (seed, steps). Slope of the seed-mean curve on ``mask`` with a seed bootstrap."""
    n_pts = int(mask.sum())
    out = {"n_points": n_pts, "slope": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    if n_pts < spec["min_points"]:
        out["note"] = f"only {n_pts} N above the estimator's floor (need {spec['min_points']})"
        return out
    x, c = steps[mask], curves[:, mask]
    out["slope"] = _slope(x, c.mean(0))
    out["steps_used"] = f"{int(x.min())}-{int(x.max())}"
    if c.shape[0] > 1 and np.allclose(c, c[:1]):
        out["ci_low"] = out["ci_high"] = out["slope"]
        out["note"] = "deterministic (same for every seed)"
    elif c.shape[0] > 1:
        boot = []
        for _ in range(spec["bootstrap"]):
            pick = rng.integers(c.shape[0], size=c.shape[0])
            boot.append(_slope(x, c[pick].mean(0)))
        out["ci_low"], out["ci_high"] = np.percentile(boot, [2.5, 97.5])
        out["note"] = f"bootstrap over {c.shape[0]} seeds"
    else:
        out["note"] = "one seed: no CI"
    return out


def fit_slopes(cubes: dict, spec: dict) -> pd.DataFrame:
    """Slopes for every (sweep, dataset, method, sampler, grid) curve of every estimator."""
    rng = np.random.default_rng(spec["seed"])
    rows = []
    for est, var in ESTIMATORS.items():
        for sweep, cube in cubes.items():
            if var not in cube or "eps" in cube.dims:  # perturbation sweeps: fitted against eps
                continue
            ref = spec["reference_steps"].get(str(sweep))
            for dataset, method, sampler, grid in _combos(cube, var):
                da = cube[var].sel(
                    {"dataset": dataset, "method": method, "sampler": sampler, "grid": grid}
                )
                da = da.dropna("steps", how="all").dropna("seed", how="all")
                steps = da.steps.values.astype(float)
                floor = _floor(cube, dataset)
                mask = eligible_steps(
                    est, steps, da.mean("seed").values, floor, ref or np.inf, spec
                )
                res = fit_slope(da.transpose("seed", "steps").values, steps, mask, spec, rng)
                rows.append(
                    dict(
                        sweep=sweep,
                        dataset=dataset,
                        method=method,
                        sampler=sampler,
                        grid=grid,
                        estimator=est,
                        floor=floor if est == "uncoupled" else np.nan,
                        **res,
                    )
                )
    cols = [
        "sweep",
        "dataset",
        "method",
        "sampler",
        "grid",
        "estimator",
        "slope",
        "ci_low",
        "ci_high",
        "n_points",
        "steps_used",
        "floor",
        "note",
    ]
    return pd.DataFrame(rows).reindex(columns=cols)


def _combos(cube, var):
    present = cube[var].notnull().any(["seed", "steps"]).to_dataframe(name="present")
    present = present[present["present"]].reset_index()
    for r in present.itertuples():
        yield r.dataset, r.method, r.sampler, r.grid


def _floor(cube, dataset) -> float:
    if "w2_floor_mean" not in cube:
        return np.nan
    return float(cube["w2_floor_mean"].sel(dataset=dataset))


def write_table(
    df: pd.DataFrame,
    csv: str | None,
    md: str,
    title: str,
    caption: str,
    floatfmt: str = ".3f",
    tex: str | None = None,
) -> None:
    """A table as CSV, as Markdown with a title and a caption saying what was measured, and
    optionally as a LaTeX table (pandas ``to_latex``) with the same caption."""
    if csv is not None:
        with atomic_path(csv) as tmp:
            df.to_csv(tmp, index=False)
    with atomic_path(md) as tmp:
        table = df.to_markdown(index=False, floatfmt=floatfmt)
        tmp.write_text(f"# {title}\n\n{caption}\n\n{table}\n")
    if tex is not None:
        with atomic_path(tex) as tmp:
            fmt = "{:" + floatfmt + "}"
            body = df.to_latex(index=False, float_format=fmt.format, na_rep="--",
                               caption=f"{title}. {caption}")  # fmt: skip
            tmp.write_text(body)


def mean_sd(mean: float, sd: float, fmt: str = ".3g") -> str:
    """ "m ± s", or "m" when there is no spread (one seed)."""
    if not np.isfinite(mean):
        return str(mean)
    return f"{mean:{fmt}}" if not np.isfinite(sd) else f"{mean:{fmt}} ± {sd:{fmt}}"


def slopes_table(cube_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    df = fit_slopes(open_groups(cube_path), spec)
    write_table(
        df, csv, md, "W2 against N: fitted log-log slopes",
        "Slope of log(mean W2 over seeds) on log N, fitted only where the estimator stands above "
        "its floor (see mfgstudy.report); the CI is a bootstrap over seeds. The paper claims "
        "O(1/N) convergence.",
    )  # fmt: skip
    log.info("slopes:\n%s", df.to_string())
    return df


def figure1(cube_path: str, spec: dict, png: str, pdf: str) -> None:
    """W2 against N for every sampler and grid (log-log), O(1/N) line, floor, fitted slopes."""
    cubes = open_groups(cube_path)
    fig_spec = spec["figure1"]
    sub = cubes[fig_spec["sweep"]].sel({"method": fig_spec["method"]})
    slopes = fit_slopes({fig_spec["sweep"]: cubes[fig_spec["sweep"]]}, spec)
    slopes = slopes[(slopes.sweep == fig_spec["sweep"]) & (slopes.method == fig_spec["method"])]
    ests = [e for e, v in ESTIMATORS.items() if v in sub and sub[v].notnull().any()]
    datasets = [
        d
        for d in sub.dataset.values
        if any(sub[ESTIMATORS[e]].sel(dataset=d).notnull().any() for e in ests)
    ]
    fig, axes = plt.subplots(
        len(ests), len(datasets), figsize=(4.6 * len(datasets), 4.6 * len(ests)), squeeze=False
    )
    for i, est in enumerate(ests):
        for j, ds_name in enumerate(datasets):
            ax = axes[i, j]
            df = (
                sub[ESTIMATORS[est]]
                .sel(dataset=ds_name)
                .to_dataframe(name="W2")
                .reset_index()
                .dropna(subset=["W2"])
            )
            if df.empty:
                ax.set_visible(False)
                continue
            sns.lineplot(
                data=df,
                x="steps",
                y="W2",
                hue="sampler",
                style="grid",
                markers=True,
                errorbar="sd",
                ax=ax,
                legend=(i == 0 and j == len(datasets) - 1),
            )
            _reference_line(ax, df)
            if est == "uncoupled":
                _floor_band(ax, sub, ds_name)
            _log_axes(ax, df.steps.unique())
            ax.set(title=f"{ds_name}: {est}", xlabel="N (steps)")
            ax.set_ylabel("W2" + (" (upper bound)" if est == "coupled" else ""))
            sel = slopes[(slopes.dataset == ds_name) & (slopes.estimator == est)]
            ax.text(
                0.0, -0.2, _slope_text(sel), transform=ax.transAxes, fontsize=6.5,
                va="top", family="monospace",
            )  # fmt: skip
    if axes[0, -1].get_legend() is not None:
        sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1), fontsize=7)
    fig.suptitle(
        f"W2 against the number of steps N ({fig_spec['method']} score, sweep {fig_spec['sweep']});"
        " dashed: O(1/N); grey: finite-sample floor",
        y=1.01,
    )
    fig.tight_layout()
    for path, ext in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _log_axes(ax, steps) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(int(n) for n in steps))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
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
        ci = "" if np.isnan(r.ci_low) else f" [{r.ci_low:.2f},{r.ci_high:.2f}]"
        val = "  n/a" if np.isnan(r.slope) else f"{r.slope:+.2f}"
        lines.append(f"{r.sampler[:10]:10s} {r.grid[:7]:7s} {val}{ci}")
    return "fitted slope [95% CI]\n" + "\n".join(lines)


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
            for m in present:
                row[f"{m}_mean"] = g[m].mean()
                row[f"{m}_sd"] = g[m].std(ddof=1) if len(g) > 1 else np.nan
            rows.append(row)
        for d in long["dataset"].unique():
            floor = {f"{m}_mean": float(c[f"{m}_floor"].sel(dataset=d))
                     for m in present if f"{m}_floor" in c}  # fmt: skip
            rows.append({"sweep": name, "dataset": d, "method": "real data (test split)",
                         "seeds": 0, **floor})  # fmt: skip
    df = pd.DataFrame(rows)
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    shown = pd.DataFrame(columns=["dataset", "method"])
    if not df.empty:
        metrics = [m for m in IMAGE_METRICS if f"{m}_mean" in df]
        shown = df[["dataset", "method", "steps", "seeds"]].copy()
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
        f"probability > {CONFIDENCE}. Mean ± sd over seeds. 'real data': the test split.",
        tex=tex,
    )  # fmt: skip
    return df
