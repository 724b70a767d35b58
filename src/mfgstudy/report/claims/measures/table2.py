"""Table 2: the image metric under adversarial score perturbations (lowest at every eps; the
degradation ratio against a baseline)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mfgstudy.rates import welch_interval
from mfgstudy.report.claims.gates import LEVEL, SENSITIVITY, images_gate
from mfgstudy.report.claims.measures.common import DDIM
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition


def _table2(ctx, method: str | list[str]) -> pd.DataFrame:
    """Table 2's rows of one model or several ("ddim": the DDPM model under DDIM)."""
    df = ctx.table2
    if df.empty:  # no image sweep in this config: no rows, but the columns the measures read
        return pd.DataFrame(columns=["dataset", "metric", "method", "sampler", "perturbation",
                                     "eps", "mean", "per_seed"])  # fmt: skip
    ddim = df["sampler"] == DDIM
    keep = np.zeros(len(df), bool)
    for mm in [method] if isinstance(method, str) else method:
        keep |= ((df["method"] == "ddpm") & ddim) if mm == DDIM else ((df["method"] == mm) & ~ddim)
    return df[keep]


def _table2_gate(ctx, gated: list[str], baselines: list[str]) -> dict:
    """The images gate at eps = 0 of Table 2's sweep: ``gated`` against the best of
    ``baselines``."""
    fd = {}
    for mm in {*gated, *baselines}:
        t = _table2(ctx, mm)
        fd[mm] = float(t[t["eps"] == 0]["mean"].iloc[0]) if len(t[t["eps"] == 0]) else np.nan
    return images_gate(fd, gated, baselines, ctx.settings.fidelity["images"])


def _per_seed_values(row) -> np.ndarray:
    """The per-seed values of one Table 2 cell (``per_seed``: ';'-joined)."""
    text = getattr(row, "per_seed", "")
    if isinstance(text, str) and text:
        return np.array([float(v) for v in text.split(";")])
    return np.array([float(row.mean)])  # a table without them: the mean, one value


@measure(
    "lowest_everywhere", evidence=("robustness_eps_exponents", "fig_robustness_eps"), gate=LEVEL
)
def lowest_everywhere(m: dict, ctx) -> list[Condition]:
    """The method's image metric is the lowest at every eps <= ``eps_max``: per eps and baseline
    a Welch interval on the log ratio of the per-seed values (Bonferroni over all of them). The
    condition's [lo, hi]: the share of eps where every interval shows the method lower, and the
    share where none shows it higher; the point, the share where its mean is the lowest."""
    own = _table2(ctx, m["method"])
    label = f"{m['method']} lowest of {', '.join([m['method'], *m['baselines']])}"
    if own.empty:
        return [Condition(label, np.nan, reason="no Table 2 sweep at this scale")]
    own = own[own["eps"] <= m["eps_max"]]
    base = _table2(ctx, m["baselines"])
    pairs = [(r, o) for r in own.itertuples()
             for o in base[(base["eps"] == r.eps) & (base["perturbation"] == r.perturbation)]
             .itertuples()]  # fmt: skip
    level = 1.0 - 0.05 / max(len(pairs), 1)
    lower, not_higher, point = {}, {}, {}
    what, seeds = "", []
    for r, o in pairs:
        x, y = _per_seed_values(r), _per_seed_values(o)
        seeds += [len(x), len(y)]
        ratio, lo, hi, what = welch_interval(x, y, "log_ratio", level)
        lower[r.eps] = lower.get(r.eps, True) and bool(hi < 1)
        not_higher[r.eps] = not_higher.get(r.eps, True) and not bool(lo > 1)
        point[r.eps] = point.get(r.eps, True) and bool(ratio < 1)
    n = max(len(point), 1)
    share = sum(point.values()) / n
    seeds = min(seeds, default=0)
    decided = seeds >= 2
    scale = (f"{own['dataset'].iloc[0]}, {own['metric'].iloc[0]}, {len(point)} eps <= "
             f"{m['eps_max']:g}, per-seed values of {seeds} seed(s) per model")  # fmt: skip
    gate = _table2_gate(
        ctx, [*m["baselines"], *([m["control"]] if m.get("control") else [])], m["baselines"]
    )  # a level comparison: the method is not gated
    over = (f"Welch per eps and baseline ({what.split(',')[0]}), Bonferroni over {len(pairs)}"
            if decided else f"{seeds} seed(s): no interval")  # fmt: skip
    lo = sum(lower.values()) / n if decided else np.nan
    hi = sum(not_higher.values()) / n if decided else np.nan
    return [Condition(label, share, lo, hi, over, seeds, scale, fidelity=gate)]


@measure("degradation_ratio", evidence=("table2_perturbed_images",), gate=SENSITIVITY)
def degradation_ratio(m: dict, ctx) -> list[Condition]:
    """The relative increase of the image metric from eps = 0 to ``eps``, method / baseline: per
    seed (one model's own clean value) the increase, and a Welch interval on the log ratio of
    the two models' mean increases."""
    label = f"relative increase at eps {m['eps']:g}: {m['method']} / {m['baseline']}"

    def rel(method) -> np.ndarray:
        t = _table2(ctx, method)
        at, base = t[np.isclose(t["eps"], m["eps"])], t[t["eps"] == 0]
        if not (len(at) and len(base)):
            return np.array([])
        a, b = _per_seed_values(next(at.itertuples())), _per_seed_values(next(base.itertuples()))
        return a / b - 1.0 if a.shape == b.shape else np.array([])

    a, b = rel(m["method"]), rel(m["baseline"])
    if not (len(a) and len(b)):
        return [Condition(label, np.nan, reason="no Table 2 sweep at this scale")]
    gate = _table2_gate(ctx, [m["method"], m["baseline"]], [m["baseline"]])  # sensitivity
    point, lo, hi, over = welch_interval(a, b, "log_ratio")
    if not np.isfinite(point):  # an increase that is not positive on average: no log scale
        point = float(a.mean() / b.mean()) if b.mean() else np.nan
    return [Condition(label, point, lo, hi, over, min(len(a), len(b)),
                      scale=f"{m['method']} {a.mean():+.3g}, {m['baseline']} {b.mean():+.3g} "
                            f"(means over {len(a)}/{len(b)} seeds)",
                      fidelity=gate)]  # fmt: skip
