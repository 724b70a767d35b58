"""Robustness to score perturbations (paper sections 5 and 7.3), drawn from the metrics cube.

* Exponent table and figure: how far a perturbation of size eps moves the generated law, W2
  between perturbed and unperturbed samples (``coupled``: same x_T and noise, the RMS
  displacement, an upper bound on W2; ``uncoupled``: the optimal matching of the two sample
  sets) against eps, per data set, method and perturbation kind. The exponent is the tail slope
  of ``mfgstudy.rates`` towards eps -> 0 (the theorems are eps -> 0 statements), fitted only
  over eps <= ``eps_fit_max``; larger eps are plotted, never fitted. Each row carries its
  model's unperturbed fidelity (W2 to the data and the estimator's floor). ``w2_per_eps`` is
  the mean of W2 / eps over the fitted eps and the seeds: the constant K of a linear response.
* Table 2: an image metric (FD-digits, or FID where Inception is configured) against eps per
  method and perturbation kind, mean (± sd over seeds).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from mfgstudy.rates import fit_rate, rate_columns
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

EPS_ESTIMATORS = {"coupled": "w2_to_clean_coupled", "uncoupled": "w2_to_clean"}
IMAGE_FD = ("fid", "fd_digits")  # Table 2's metric: FID where measured, else FD-digits
EPS_FIT_MAX = 0.1  # default: eps above this is plotted, never fitted


def _perturbed(cubes: dict, var: str) -> dict:
    return {name: c for name, c in cubes.items() if "eps" in c.dims and var in c}


def _curves(cube, var: str, **sel) -> tuple[np.ndarray, np.ndarray]:
    """(seed, eps) array of ``var`` at the last N, and the eps values (> 0)."""
    da = cube[var].sel(sel).isel(steps=-1)
    da = da.squeeze([d for d in da.dims if d not in ("seed", "eps")], drop=True)  # one seed: kept
    da = da.sel(eps=da["eps"] > 0).transpose("seed", "eps")
    keep = da.notnull().any("eps").values
    return da.values[keep], da["eps"].values


def clean_fidelity(cube, **sel) -> dict:
    """The unperturbed model's W2 to the data (uncoupled, mean over seeds) and the floor."""
    out = {"clean_w2_to_data": np.nan, "w2_floor": np.nan}
    if "w2_uncoupled" in cube:
        # eps = 0 is the same unperturbed run under every perturbation kind: mean over seeds
        da = cube["w2_uncoupled"].sel(sel).sel(eps=0).isel(steps=-1)
        out["clean_w2_to_data"] = float(da.mean())
    if "w2_floor_mean" in cube:
        out["w2_floor"] = float(cube["w2_floor_mean"].sel(dataset=sel["dataset"]))
    return out


def eps_exponents(cubes: dict, spec: dict) -> pd.DataFrame:
    """Exponent of W2 (perturbed vs clean) in eps -> 0 for every curve of every sweep."""
    rs = rate_spec(spec, limit="small")
    fit_max = spec.get("eps_fit_max", EPS_FIT_MAX)
    rows = []
    for sweep, cube in _perturbed(cubes, EPS_ESTIMATORS["coupled"]).items():
        for d, m, smp, g, p in _combos(cube):
            fidelity = clean_fidelity(cube, dataset=d, method=m, sampler=smp, grid=g)
            for est, var in EPS_ESTIMATORS.items():
                curves, eps = _curves(cube, var, dataset=d, method=m, sampler=smp, grid=g,
                                      perturbation=p)  # fmt: skip
                if curves.size == 0:
                    continue
                fit = eps <= fit_max
                rate = fit_rate(eps[fit], curves[:, fit], rs, resampling="seeds")
                ratio = curves[:, fit] / eps[fit]
                rows.append({"sweep": sweep, "dataset": d, "method": m, "sampler": smp,
                             "grid": g, "perturbation": p, "estimator": est,
                             "exponent": rate.slope, **rate_columns(rate),
                             "eps_fitted": f"{eps[fit].min():g}-{eps[fit].max():g}"
                             if fit.any() else "",
                             "eps_plotted_only": ", ".join(f"{e:g}" for e in eps[~fit]),
                             "w2_per_eps": float(np.nanmean(ratio)) if ratio.size else np.nan,
                             "w2_per_eps_sd": float(np.std(ratio.mean(1), ddof=1))
                             if ratio.shape[0] > 1 else np.nan, **fidelity})  # fmt: skip
    cols = ["sweep", "dataset", "method", "sampler", "grid", "perturbation", "estimator"]
    return pd.DataFrame(rows, columns=cols + ["exponent"] if not rows else None)


def _combos(cube):
    present = cube[EPS_ESTIMATORS["coupled"]].notnull().any(["seed", "steps", "eps"])
    present = present.to_dataframe(name="present")
    present = present[present["present"]].reset_index()
    for r in present.itertuples():
        yield r.dataset, r.method, r.sampler, r.grid, r.perturbation


# --- Theorem 4 at the equilibrium: the exact score (mfgstudy.analysis.robustness_exact) -----
BOUNDS = {"coupled": "upper", "moments": "lower", "law": "estimate", "transfer": "lower"}
FLOORS = {"law": "law_se", "transfer": "transfer_se"}


def exact_exponents(store_paths: list[str], spec: dict) -> pd.DataFrame:
    """Exponent in eps -> 0 of every estimator for every (law, perturbation) store."""
    rs = rate_spec(spec, limit="small")
    fit_max = spec.get("eps_fit_max", EPS_FIT_MAX)
    rows = []
    for path in store_paths:
        ds = open_store(path)
        eps = ds["eps"].values
        fit = (eps > 0) & (eps <= fit_max)
        check = ds["check_coupled"].sel(eps=eps[fit]).values  # (N, 2N) x fitted eps
        rel = np.abs(check[0] - check[1]) / check[1]
        upper = ds["coupled"].mean("seed").values[fit]  # the upper bound every estimate is under
        for est in [k for k in BOUNDS if k in ds]:
            curves = ds[est].transpose("seed", "eps").values[:, fit]
            floor = ds[FLOORS[est]].mean("seed").values[fit] if est in FLOORS else None
            # a point enters the fit only where the response has converged in N (the check)
            rate = fit_rate(eps[fit], curves, rs, resampling="seeds", floor=floor, change=rel)
            rows.append({
                "law": ds.attrs["law"], "modes": ds.attrs["modes"],
                "perturbation": ds.attrs["perturbation"], "estimator": est,
                "bound": BOUNDS[est], "exponent": rate.slope, **rate_columns(rate),
                "eps_fitted": f"{eps[fit].min():g}-{eps[fit].max():g}",
                "w2_per_eps_smallest": float(np.nanmean(curves[:, 0]) / eps[fit][0]),
                "n_samples": int(ds.attrs["n_samples"]), "steps": int(ds.attrs["steps"]),
                "check_max_rel_change_2n": float(np.nanmax(rel)),
                "check_median_rel_change_2n": float(np.nanmedian(rel)),
                # the share of fitted eps where this estimator's mean lies above the coupled
                # upper bound's: W2 lies below that bound, so such an estimate is biased upward
                "above_upper_bound": float(np.mean(np.nanmean(curves, 0) > upper)),
            })  # fmt: skip
    return pd.DataFrame(rows)


def exact_table(store_paths: list[str], spec: dict, csv: str, md: str, tex: str) -> pd.DataFrame:
    df = exact_exponents(store_paths, spec)
    write_table(
        df, csv, md, "Theorem 4 and Corollary 5 at the equilibrium: the exact score",
        "How far a score perturbation |delta|_2 <= eps moves the law generated with the exact "
        "score (the idealised equilibrium), against eps -> 0: the tail slope over the fitted eps "
        "(mfgstudy.rates; CI: jackknife-t over seeds, independent noise draws). Estimators: "
        "coupled (RMS displacement of the same samples: an upper bound on W2, can confirm a bound "
        "claim, not refute it), moments (Bures distance of the two sets' means and covariances: "
        "a lower bound, can refute, not confirm), law (MW2 between per-mode summaries, separated "
        "modes only: a law-level estimate; floor its jackknife standard error), transfer (the "
        "dual lower bound from the mass crossing between two separated modes; floor its "
        "standard error). "
        "check_*_rel_change_2n: relative change of the coupled response from N to 2N steps (same "
        "samples and paths), the discretisation's share of the response: an eps whose change "
        "exceeds report.rates.max_refinement_change is excluded from the fit (column "
        "excluded). above_upper_bound: the share of fitted eps at which the estimator's mean "
        "lies above the coupled upper bound (W2 lies below that bound, so such an estimate is "
        "biased upward and cannot refute a bound claim).",
        tex=tex,
    )  # fmt: skip
    log.info("exact-score eps exponents:\n%s", df.to_string())
    return df


def exact_figure(store_paths: list[str], png: str, pdf: str) -> None:
    """W2 responses against eps per law (rows) and perturbation kind (columns), every estimator."""
    plt = pyplot()
    sns = seaborn()
    frames = []
    for path in store_paths:
        ds = open_store(path)
        for est in [k for k in BOUNDS if k in ds]:
            df = ds[est].to_dataframe(name="w2").reset_index()
            frames.append(df.assign(law=ds.attrs["law"], perturbation=ds.attrs["perturbation"],
                                    estimator=f"{est} ({BOUNDS[est]})"))  # fmt: skip
    df = pd.concat(frames, ignore_index=True)
    df = df[df["eps"] > 0]
    laws, kinds = sorted(df["law"].unique()), sorted(df["perturbation"].unique())
    fig, axes = plt.subplots(len(laws), len(kinds), figsize=(4.0 * len(kinds), 3.6 * len(laws)),
                             squeeze=False)  # fmt: skip
    for i, law in enumerate(laws):
        for j, kind in enumerate(kinds):
            ax = axes[i, j]
            sub = df[(df["law"] == law) & (df["perturbation"] == kind)]
            sns.lineplot(sub, x="eps", y="w2", hue="estimator", marker="o", errorbar="sd", ax=ax,
                         legend=(j == 0))  # fmt: skip
            eps = np.array(sorted(sub["eps"].unique()))
            anchor = float(sub[sub["eps"] == eps[-2]]["w2"].median())
            for power, style in ((1.0, "--"), (0.5, ":")):
                ax.plot(eps, anchor * (eps / eps[-2]) ** power, "k" + style, lw=0.8,
                        label=f"slope {power:g}")  # fmt: skip
            ax.set(xscale="log", yscale="log", title=f"{law}: {kind}", xlabel="eps",
                   ylabel="W2(perturbed, clean)")  # fmt: skip
    for row in axes:  # the first panel of each row: its estimators and the reference slopes
        row[0].legend(fontsize=6)
    fig.suptitle("Exact score under score perturbations (dashed: slope 1; dotted: slope 1/2)")
    fig.tight_layout()
    save_figure(fig, png, pdf)


def robustness_table(cube_path: str, spec: dict, csv: str, md: str, tex: str) -> pd.DataFrame:
    df = eps_exponents(open_groups(cube_path), spec)
    write_table(
        df, csv, md, "Score perturbations: W2 against eps, fitted exponents",
        "W2 between the samples of the perturbed and the unperturbed sampler (coupled: same x_T "
        "and noise, an upper bound on W2; uncoupled: optimal matching of the two sample sets) "
        "against the perturbation size eps (|delta|_2 <= eps). exponent: the tail slope towards "
        "eps -> 0 over `eps_fitted` only (larger eps are plotted, never fitted), with local "
        "slopes and the regime test (mfgstudy.rates); CI: jackknife over seeds (>= 5 seeds; "
        "fewer: none). clean_w2_to_data: the unperturbed model's W2 to the data beside the "
        "estimator's floor w2_floor. w2_per_eps: mean of W2 / eps over the fitted eps. Theorem "
        "4 claims W2 <= K eps for state-dependent perturbations and K eps^(2/3) in general.",
        tex=tex,
    )  # fmt: skip
    log.info("eps exponents:\n%s", df.to_string())
    return df


def robustness_figure(cube_path: str, spec: dict, png: str, pdf: str) -> None:
    """log-log W2 (perturbed vs clean, coupled) against eps: one panel per perturbation kind."""
    plt = pyplot()
    sns = seaborn()
    cubes = _perturbed(open_groups(cube_path), EPS_ESTIMATORS["coupled"])
    frames = []
    for sweep, cube in cubes.items():
        df = cube[EPS_ESTIMATORS["coupled"]].isel(steps=-1).to_dataframe().reset_index()
        frames.append(df.assign(sweep=sweep))
    df = pd.concat(frames).dropna(subset=[EPS_ESTIMATORS["coupled"]]) if frames else None
    kinds = sorted(df["perturbation"].unique()) if df is not None and len(df) else []
    fig, axes = plt.subplots(1, max(len(kinds), 1), figsize=(4.2 * max(len(kinds), 1), 3.8),
                             squeeze=False)  # fmt: skip
    for ax, kind in zip(axes[0], kinds, strict=False):
        sub = df[(df["perturbation"] == kind) & (df["eps"] > 0)]
        sns.lineplot(sub, x="eps", y=EPS_ESTIMATORS["coupled"], hue="method", marker="o",
                     errorbar="sd", ax=ax)  # fmt: skip
        eps = np.array(sorted(sub["eps"].unique()))
        anchor = float(sub[sub["eps"] == eps[0]][EPS_ESTIMATORS["coupled"]].median())
        for power, style in ((1.0, "--"), (2.0 / 3.0, ":")):
            ax.plot(eps, anchor * (eps / eps[0]) ** power, "k" + style, lw=1,
                    label=f"slope {power:.2g}")  # fmt: skip
        ax.set(xscale="log", yscale="log", title=kind, xlabel="eps",
               ylabel="W2(perturbed, clean), coupled")  # fmt: skip
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, png, pdf)


def table2(cube_path: str, csv: str, md: str, tex: str) -> pd.DataFrame:
    """An image metric against eps per method and perturbation kind (Table 2's layout)."""
    rows = []
    for sweep, cube in open_groups(cube_path).items():
        metric = next((v for v in IMAGE_FD if v in cube), None)
        if "eps" not in cube.dims or metric is None:
            continue
        long = cube[metric].isel(steps=-1).to_dataframe().reset_index().dropna(subset=[metric])
        keys = ["dataset", "method", "sampler", "grid", "perturbation", "eps"]
        for key, g in long.groupby(keys):
            rows.append({"sweep": sweep, **dict(zip(keys, key, strict=True)), "metric": metric,
                         "label": row_label(key[1], key[2]),
                         "seeds": len(g), "mean": g[metric].mean(),
                         "sd": g[metric].std(ddof=1) if len(g) > 1 else np.nan,
                         "per_seed": ";".join(f"{v:.17g}" for v in
                                              g.sort_values("seed")[metric])})  # fmt: skip
    long = pd.DataFrame(rows)
    with atomic_path(csv) as tmp:
        long.to_csv(tmp, index=False)
    if long.empty:
        wide = pd.DataFrame(columns=["dataset", "method", "perturbation", "metric"])
    else:
        long["cell"] = [mean_sd(r.mean, r.sd) for r in long.itertuples()]
        wide = long.pivot_table(index=["dataset", "label", "sampler", "perturbation", "metric"],
                                columns="eps", values="cell", aggfunc="first")  # fmt: skip
        wide.columns = [f"eps = {e:g}" for e in wide.columns]
        wide = wide.reset_index().rename(columns={"label": "method"})
    write_table(
        wide, None, md, "Table 2: image metric under score perturbations",
        "FD-digits (the digits classifier's feature space; not FID) or FID (Inception) of samples "
        "generated with the perturbed score s + delta, |delta|_2 <= eps, mean ± sd over seeds "
        "(one value: one seed). The paper's Table 2 reports FID on CIFAR-10 at its own scale.",
        tex=tex,
    )  # fmt: skip
    return long


def injection_figure(store_paths: list[str], png: str, pdf: str) -> None:
    """Attack success rate against eps per method (the analog of the paper's Figure 2)."""
    plt = pyplot()
    sns = seaborn()
    frames = []
    for p in store_paths:
        ds = open_store(p)
        cols = {"eps": ds["eps"].values, "success_rate": ds["success_rate"].values}
        frames.append(pd.DataFrame(cols).assign(method=ds.attrs["method"], seed=ds.attrs["seed"]))
    df = pd.concat(frames)
    fig, ax = plt.subplots(figsize=(5, 3.8))
    sns.lineplot(df, x="eps", y="success_rate", hue="method", marker="o", errorbar="sd", ax=ax)
    ax.set(xlabel="eps (x mean class-embedding norm)", ylabel="attack success rate",
           title="Class-embedding injection on digits (ANALOG of section 7.4)",
           ylim=(0, 1))  # fmt: skip
    fig.tight_layout()
    save_figure(fig, png, pdf)
