"""What the report modules share: plotting imported on demand, atomic table and figure writers,
the study's rate settings and the rows' method labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mfgstudy.rates import RateSpec
from mfgstudy.store import atomic_path


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (a table job does
    not pay for it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def seaborn():
    """seaborn, imported when a figure is drawn (it pulls scipy.stats: most of a second)."""
    import seaborn as sns

    return sns


def rate_spec(spec: dict, **override) -> RateSpec:
    """The study's rate settings (``report.rates`` and ``report.floor_factor``)."""
    return RateSpec.from_dict({**spec.get("rates", {}), "floor_factor": spec["floor_factor"]},
                              **override)  # fmt: skip


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


def save_figure(fig, png: str, pdf: str, tight: bool = False) -> None:
    """Write ``fig`` atomically as PNG and PDF (``tight``: cropped to its artists); close it."""
    plt = pyplot()
    for path, ext in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=130, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)


def mean_sd(mean: float, sd: float, fmt: str = ".3g") -> str:
    """ "m ± s", or "m" when there is no spread (one seed)."""
    if not np.isfinite(mean):
        return str(mean)
    return f"{mean:{fmt}}" if not np.isfinite(sd) else f"{mean:{fmt}} ± {sd:{fmt}}"


METHOD_LABELS = {"ddpm": "DDPM", "edm": "EDM", "flow_matching": "Flow Matching",
                 "mfg": "MFG-Diffusion",
                 "mfg_value_off": "MFG-Diffusion, V = 0 (control)"}  # fmt: skip


def row_label(method: str, sampler: str | None = None) -> str:
    """A table row's name: the method's, or the DDIM sampler's on a method's model (the paper's
    DDIM baseline is DDPM's network sampled by DDIM)."""
    name = METHOD_LABELS.get(method, method)
    return f"DDIM ({name} model)" if sampler == "ddim" else name
