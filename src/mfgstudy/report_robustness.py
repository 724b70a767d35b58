"""Robustness to score perturbations (paper sections 5 and 7.3), drawn from the metrics cube.

* Exponent table and figure: how far a perturbation of size eps moves the generated law, W2
  between perturbed and unperturbed samples (``coupled``: same x_T and noise, the RMS
  displacement; ``uncoupled``: the optimal matching of the two sets) against eps, per data set,
  method and perturbation kind; the exponent is the slope of log(mean over seeds) on log eps, with
  a bootstrap CI over seeds (``mfgstudy.report.fit_slope``). ``w2_per_eps`` is the mean of
  W2 / eps over eps and seeds: the constant K of a linear response W2 ~ K eps.
* Table 2: an image metric (FD-digits, or FID where Inception is configured) against eps per
  method and perturbation kind, mean (± sd over seeds).
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from mfgstudy.report import fit_slope, mean_sd, write_table  # noqa: E402
from mfgstudy.store import atomic_path, open_groups  # noqa: E402

log = logging.getLogger(__name__)

EPS_ESTIMATORS = {"coupled": "w2_to_clean_coupled", "uncoupled": "w2_to_clean"}
IMAGE_FD = ("fid", "fd_digits")  # Table 2's metric: FID where measured, else FD-digits


def _perturbed(cubes: dict, var: str) -> dict:
    return {name: c for name, c in cubes.items() if "eps" in c.dims and var in c}


def _curves(cube, var: str, **sel) -> tuple[np.ndarray, np.ndarray]:
    """(seed, eps) array of ``var`` at the last N, and the eps values (> 0)."""
    da = cube[var].sel(sel).isel(steps=-1).squeeze(drop=True)
    da = da.sel(eps=da["eps"] > 0).transpose("seed", "eps")
    keep = da.notnull().any("eps").values
    return da.values[keep], da["eps"].values


def eps_exponents(cubes: dict, spec: dict) -> pd.DataFrame:
    """Fitted exponent of W2 (perturbed vs clean) against eps for every curve of every sweep."""
    rng = np.random.default_rng(spec["seed"])
    rows = []
    for sweep, cube in _perturbed(cubes, EPS_ESTIMATORS["coupled"]).items():
        for d, m, smp, g, p in _combos(cube):
            for est, var in EPS_ESTIMATORS.items():
                curves, eps = _curves(cube, var, dataset=d, method=m, sampler=smp, grid=g,
                                      perturbation=p)  # fmt: skip
                if curves.size == 0:
                    continue
                mask = np.isfinite(curves).all(0) & (curves > 0).all(0)
                fit = fit_slope(curves, eps, mask, spec, rng)
                fit.pop("steps_used", None)
                ratio = curves[:, mask] / eps[mask]
                rows.append({"sweep": sweep, "dataset": d, "method": m, "sampler": smp,
                             "grid": g, "perturbation": p, "estimator": est,
                             "exponent": fit.pop("slope"), **fit,
                             "eps_range": f"{eps[mask].min():g}-{eps[mask].max():g}"
                             if mask.any() else "",
                             "w2_per_eps": float(np.mean(ratio)) if ratio.size else np.nan,
                             "w2_per_eps_sd": float(np.std(ratio.mean(1), ddof=1))
                             if ratio.shape[0] > 1 else np.nan})  # fmt: skip
    cols = ["sweep", "dataset", "method", "sampler", "grid", "perturbation", "estimator"]
    return pd.DataFrame(rows, columns=cols + ["exponent"] if not rows else None)


def _combos(cube):
    present = cube[EPS_ESTIMATORS["coupled"]].notnull().any(["seed", "steps", "eps"])
    present = present.to_dataframe(name="present")
    present = present[present["present"]].reset_index()
    for r in present.itertuples():
        yield r.dataset, r.method, r.sampler, r.grid, r.perturbation


def robustness_table(cube_path: str, spec: dict, csv: str, md: str, tex: str) -> pd.DataFrame:
    df = eps_exponents(open_groups(cube_path), spec)
    write_table(
        df, csv, md, "Score perturbations: W2 against eps, fitted exponents",
        "W2 between the samples of the perturbed and the unperturbed sampler (coupled: same x_T "
        "and noise; uncoupled: optimal matching of the two sample sets) against the perturbation "
        "size eps (|delta|_2 <= eps), fitted on log-log axes over eps > 0; CI: bootstrap over "
        "seeds. w2_per_eps: mean of W2 / eps (the constant of a linear response). Theorem 4 "
        "claims W2 <= K eps for state-dependent perturbations and K eps^(2/3) in general.",
        tex=tex,
    )  # fmt: skip
    log.info("eps exponents:\n%s", df.to_string())
    return df


def robustness_figure(cube_path: str, spec: dict, png: str, pdf: str) -> None:
    """log-log W2 (perturbed vs clean, coupled) against eps: one panel per perturbation kind."""
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
    for path in (png, pdf):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.rsplit(".", 1)[-1], dpi=130)
    plt.close(fig)


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
                         "seeds": len(g), "mean": g[metric].mean(),
                         "sd": g[metric].std(ddof=1) if len(g) > 1 else np.nan})  # fmt: skip
    long = pd.DataFrame(rows)
    with atomic_path(csv) as tmp:
        long.to_csv(tmp, index=False)
    if long.empty:
        wide = pd.DataFrame(columns=["dataset", "method", "perturbation", "metric"])
    else:
        long["cell"] = [mean_sd(r.mean, r.sd) for r in long.itertuples()]
        wide = long.pivot_table(index=["dataset", "method", "perturbation", "metric"],
                                columns="eps", values="cell", aggfunc="first")  # fmt: skip
        wide.columns = [f"eps = {e:g}" for e in wide.columns]
        wide = wide.reset_index()
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
    from mfgstudy.store import open_store

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
    for path in (png, pdf):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.rsplit(".", 1)[-1], dpi=130)
    plt.close(fig)
