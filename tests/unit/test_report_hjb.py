"""The HJB study's table says whether the plain variant has learned the law before any
regulariser is compared (mean ± sd over seeds; NOT CONVERGED in the title otherwise)."""

import numpy as np
import pandas as pd
import xarray as xr

from mfgstudy.report.hjb import hjb_figure, hjb_summary, hjb_table
from mfgstudy.store import write_groups, write_store

METHODS = ["hjb_plain", "hjb_terminal"]


def cube(in_support: float, w2: float, floor: float = 0.1) -> xr.Dataset:
    """A toy cube: 3 seeds, one N; the plain variant's statistics as given, the other's worse."""
    shape = (2, 3, 1)
    dims = ("method", "seed", "steps")
    spread = np.array([-0.01, 0.0, 0.01])
    ins = np.stack([in_support + spread, in_support - 0.1 + spread])[..., None]
    w = np.stack([w2 + spread, 2 * w2 + spread])[..., None]
    return xr.Dataset(
        {
            "in_support": (dims, ins),
            "w2_uncoupled": (dims, w),
            "boundary_band_ratio": (dims, np.ones(shape)),
            "support_distance_mean": (dims, np.zeros(shape)),
            "w2_floor_mean": (dims, np.full(shape, floor)),
        },
        coords={"method": METHODS, "seed": [0, 1, 2], "steps": [3000]},
    )


def test_summary_flags_what_has_learned():
    df = hjb_summary(cube(0.95, 0.15), METHODS)
    assert list(df["seeds"]) == [3, 3]
    assert np.allclose(df["in_support_mean"], [0.95, 0.85])
    assert np.allclose(df["in_support_sd"], 0.01)
    assert np.allclose(df["w2_floor_ratio_mean"], [1.5, 3.0])
    assert list(df["learned"]) == [True, False]
    # W2 above twice the floor fails the bar even with the share in the cells
    assert not hjb_summary(cube(0.95, 0.25), METHODS)["learned"].iloc[0]


SPEC = {"sweep": "hjb", "methods": METHODS, "n_samples": 2000, "boundary_width": 0.05,
        "train_steps": 1500, "batch_size": 64, "half_width": 2.0}  # fmt: skip


def _table(tmp_path, c):
    write_groups({"hjb": c}, tmp_path / "cube.zarr", {}, 0.0)
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    hjb_table(str(tmp_path / "cube.zarr"), SPEC, str(csv), str(md))
    return pd.read_csv(csv), md.read_text()


def test_table_says_not_converged(tmp_path):
    df, md = _table(tmp_path, cube(0.42, 0.39))
    title, caption = md.splitlines()[0], md.splitlines()[2]
    assert "NOT CONVERGED" in title and caption.startswith("NOT CONVERGED: the plain variant")
    assert "42%" in caption and "cannot be compared" in caption
    assert "0.420 ± 0.010" in md  # mean ± sd over seeds
    assert {"in_support_mean", "w2_uncoupled_mean", "w2_floor", "learned"} <= set(df.columns)
    df, md = _table(tmp_path, cube(0.95, 0.15))
    assert "NOT CONVERGED" not in md and "Learned: the plain variant" in md


def test_figure_carries_the_verdict(tmp_path, monkeypatch):
    _table(tmp_path, cube(0.42, 0.39))
    titles = []
    import matplotlib.figure

    monkeypatch.setattr(
        matplotlib.figure.Figure, "suptitle", lambda self, t, **kw: titles.append(t)
    )
    x = np.random.default_rng(0).uniform(-2, 2, (50, 2)).astype(np.float32)
    data = tmp_path / "data.zarr"
    write_store(xr.Dataset({"x_test": (("n", "d"), x)}), data, {}, 0, 0.0)
    dirs = []
    for m in METHODS:
        d = tmp_path / m
        write_store(
            xr.Dataset({"x": (("sample", "dim"), x)}), d / "eps0/none/N3000.zarr", {}, 0, 0.0
        )
        dirs.append(str(d))
    spec = {**SPEC, "n_samples": 50}
    hjb_figure(spec, str(data), dirs, str(tmp_path / "f.png"), str(tmp_path / "f.pdf"),
               str(tmp_path / "t.csv"))  # fmt: skip
    assert "NOT CONVERGED" in titles[0] and (tmp_path / "f.png").stat().st_size > 1000
