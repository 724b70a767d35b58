"""The HJB-regularised SGM study (MFG laboratory, section 7, Figure 2): sample scatter plots per
regulariser variant and a table of W2 to the checkerboard law, the share of samples inside its
support, and the mass near its cell edges relative to the law's own (the reported Gibbs-like
effect is a ratio above 1).

Whether the models have learned the law at all comes first: a regulariser can only be said to
help a model that has learned. Every row says whether its variant passes the bar ``LEARNED``
(mean share in the black cells >= 0.9 and mean W2 <= 2 x the finite-sample floor; the fidelity
gate of workflow/claims/mfg_laboratory.yaml), and the table's title and caption and the figure's
title say NOT CONVERGED when the plain variant (the study's first method, alpha1 = alpha2 = 0)
fails it. The Markdown table gives mean ± sd over seeds; the CSV the numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mfgstudy.layout import UNPERTURBED, store_name, value_dir
from mfgstudy.report.common import mean_sd, pyplot, save_figure, write_table
from mfgstudy.store import atomic_path, open_groups, open_store

VARS = ["w2_uncoupled", "in_support", "boundary_band_ratio", "support_distance_mean"]
LEARNED = {"min_in_support": 0.9, "max_floor_ratio": 2.0}  # the bar of "has learned the law"


def hjb_summary(cube, methods: list[str]) -> pd.DataFrame:
    """Per method (in config order): mean and sd over seeds of each statistic (last N), W2 over
    the floor, and whether the variant passes the bar ``LEARNED`` (on the means)."""
    rows = []
    floor = float(np.nanmean(cube["w2_floor_mean"].values))
    for m in methods:
        sub = cube.sel({"method": m}).isel(steps=-1)
        row = {"method": m, "seeds": int(sub["w2_uncoupled"].notnull().sum())}
        for v in VARS:
            vals = sub[v].values.ravel()
            vals = vals[np.isfinite(vals)]
            row[f"{v}_mean"] = float(vals.mean()) if vals.size else np.nan
            row[f"{v}_sd"] = float(vals.std(ddof=1)) if vals.size > 1 else np.nan
        rows.append(row)
    df = pd.DataFrame(rows)
    df["w2_floor"] = floor
    df["w2_floor_ratio_mean"] = df["w2_uncoupled_mean"] / floor
    df["w2_floor_ratio_sd"] = df["w2_uncoupled_sd"] / floor
    df["learned"] = (df["in_support_mean"] >= LEARNED["min_in_support"]) & (
        df["w2_floor_ratio_mean"] <= LEARNED["max_floor_ratio"]
    )
    return df


def convergence_note(df: pd.DataFrame) -> str:
    """One sentence on whether the plain variant (the first row) has learned the law."""
    plain = df.iloc[0]
    state = "learned" if plain["learned"] else "NOT CONVERGED"
    return (
        f"{state}: the plain variant {plain['method']} puts {plain['in_support_mean']:.0%} of its "
        f"samples in the black cells and reaches W2 = {plain['w2_floor_ratio_mean']:.2f} x the "
        f"floor (bar: >= {LEARNED['min_in_support']:.0%} and <= "
        f"{LEARNED['max_floor_ratio']:g} x the floor)"
        + ("" if plain["learned"] else "; the variants cannot be compared on these models")
    )


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """The Markdown view: mean ± sd over seeds per statistic."""
    out = df[["method", "seeds"]].copy()
    for v, name, fmt in (("in_support", "in_support", ".3f"),
                         ("w2_uncoupled", "w2_uncoupled", ".3f"),
                         ("w2_floor_ratio", "w2 / floor", ".2f"),
                         ("boundary_band_ratio", "boundary_band_ratio", ".3f"),
                         ("support_distance_mean", "support_distance_mean", ".3f")):  # fmt: skip
        out[name] = [
            mean_sd(m, s, fmt) for m, s in zip(df[f"{v}_mean"], df[f"{v}_sd"], strict=True)
        ]
    out["w2_floor"] = df["w2_floor"]
    out["learned"] = np.where(df["learned"], "yes", "no")
    return out


def _scale(spec: dict) -> str:
    batches = f"{spec['train_steps']} training batches of {spec.get('batch_size', 64)}"
    return f"{batches} (the paper: 1e5 of 64)"


def hjb_table(cube_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    cube = open_groups(cube_path)[spec["sweep"]]
    df = hjb_summary(cube, spec["methods"])
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    note = convergence_note(df)
    title = "HJB-regularised SGM on the checkerboard"
    write_table(
        display_table(df), None, md,
        title + ("" if df["learned"].iloc[0] else " (NOT CONVERGED)"),
        f"{note[0].upper()}{note[1:]}. Per variant (alphas in config.yaml), mean ± sd over seeds, "
        f"{spec['n_samples']} samples from Euler-Maruyama: share of samples inside the black "
        "cells, uncoupled W2 to an independent draw of the law and its ratio to the finite-sample "
        f"floor w2_floor, the share within {spec['boundary_width']} of a cell edge divided by the "
        "law's own share (1: no excess at the edges), and the mean distance to the cells; learned: "
        f"the variant passes the bar. {_scale(spec)}.",
    )  # fmt: skip
    return df


def hjb_figure(
    spec: dict, data_path: str, sample_dirs: list[str], png: str, pdf: str, table: str | None = None
) -> None:
    """Scatter plots: the data law, then one panel per variant (first seed, last N). With the
    study's ``table`` (CSV), each panel gives its variant's share in the cells and W2 / floor
    (mean over seeds) and the title says NOT CONVERGED when the plain variant fails the bar."""
    plt = pyplot()
    test = open_store(data_path)["x_test"].values[: spec["n_samples"]]
    stats = pd.read_csv(table) if table else None
    panels = [("checkerboard law (test draw)", test)]
    for m, d in zip(spec["methods"], sample_dirs, strict=True):
        stores = (Path(d) / value_dir("0")).glob(store_name(UNPERTURBED, "*"))
        store = sorted(stores, key=lambda p: int(p.stem[1:]))[-1]
        title = m
        if stats is not None:
            r = stats.set_index("method").loc[m]
            title += (
                f"\nin cells {r['in_support_mean']:.0%}, W2/floor {r['w2_floor_ratio_mean']:.2f}"
            )
        panels.append((title, open_store(store)["x"].values))
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    hw = spec["half_width"]
    for ax, (title, x) in zip(axes.ravel(), panels, strict=False):
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.5, lw=0)
        ax.set(xlim=(-1.3 * hw, 1.3 * hw), ylim=(-1.3 * hw, 1.3 * hw))
        ax.set_title(title, fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    head = f"HJB-regularised SGM on the checkerboard ({_scale(spec)})"
    failed = stats is not None and not bool(stats["learned"].iloc[0])
    if stats is not None:
        head += "\n" + convergence_note(stats)  # rows in the study's order, plain first
    fig.suptitle(head, fontsize=9, color="red" if failed else "black")
    fig.tight_layout()
    save_figure(fig, png, pdf, tight=True)
