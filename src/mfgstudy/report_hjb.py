"""The HJB-regularised SGM study (MFG laboratory, section 7, Figure 2): sample scatter plots per
regulariser variant and a table of W2 to the checkerboard law, the share of samples inside its
support, and the mass near its cell edges relative to the law's own (the reported Gibbs-like
effect is a ratio above 1)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mfgstudy.plan import UNPERTURBED, store_name  # noqa: E402
from mfgstudy.report import write_table  # noqa: E402
from mfgstudy.store import atomic_path, open_groups, open_store  # noqa: E402

VARS = ["w2_uncoupled", "in_support", "boundary_band_ratio", "support_distance_mean"]


def hjb_summary(cube, methods: list[str]) -> pd.DataFrame:
    """Per method (in config order): mean and sd over seeds of each statistic, last N."""
    rows = []
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
    df["w2_floor"] = float(cube["w2_floor_mean"].values.ravel()[0])
    return df


def hjb_table(cube_path: str, spec: dict, csv: str, md: str) -> pd.DataFrame:
    cube = open_groups(cube_path)[spec["sweep"]]
    df = hjb_summary(cube, spec["methods"])
    write_table(
        df, csv, md, "HJB-regularised SGM on the checkerboard",
        f"Per variant (alphas in config.yaml), mean and sd over seeds, {spec['n_samples']} "
        "samples from Euler-Maruyama: uncoupled W2 to an independent draw of the law (floor "
        "w2_floor), share of samples inside the black cells, mean distance to them, and the share "
        f"within {spec['boundary_width']} of a cell edge divided by the law's own share (1: no "
        f"excess at the edges). {spec['train_steps']} training batches of 64 (the paper: 1e5).",
    )  # fmt: skip
    return df


def hjb_figure(spec: dict, data_path: str, sample_dirs: list[str], png: str, pdf: str) -> None:
    """Scatter plots: the data law, then one panel per variant (first seed, last N)."""
    test = open_store(data_path)["x_test"].values[: spec["n_samples"]]
    panels = [("checkerboard law (test draw)", test)]
    for m, d in zip(spec["methods"], sample_dirs, strict=True):
        stores = Path(d).glob(store_name(UNPERTURBED, "*"))
        store = sorted(stores, key=lambda p: int(p.stem[1:]))[-1]
        panels.append((m, open_store(store)["x"].values))
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    hw = spec["half_width"]
    for ax, (title, x) in zip(axes.ravel(), panels, strict=False):
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.5, lw=0)
        ax.set(xlim=(-1.3 * hw, 1.3 * hw), ylim=(-1.3 * hw, 1.3 * hw), title=title)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"HJB-regularised SGM on the checkerboard ({spec['train_steps']} batches of 64; paper: 1e5)"
    )
    fig.tight_layout()
    for path, ext in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=130, bbox_inches="tight")
    plt.close(fig)
