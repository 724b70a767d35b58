"""The claims ledger: every numbered claim of the paper beside what this study measured.

The claimed values live in one data file (``workflow/claims/mfg_paper.yaml``), read here and
nowhere else. Each claim names a measurement (``measure.kind``, computed from the metrics cube,
the robustness exponents, the MFG training logs or the injection stores) and a verdict rule:

* ``improvement`` (claimed: % better than a baseline): holds if the CI of the measured
  improvement lies above 0 and reaches the claimed value; does not hold if the CI lies below the
  claimed value; otherwise not measurable at this scale (the CI is too wide to tell).
* ``bound_slope`` (a rate O(N^c), c < 0): holds if the CI's upper end is <= c + tolerance; does
  not hold if its lower end is > c + tolerance; otherwise not measurable.
* ``bound_exponent`` (W2 <= K eps^a): holds if the CI's lower end is >= a - tolerance (W2 falls
  at least as fast as eps^a); does not hold if its upper end is < a - tolerance.
* ``ratio_below`` (a ratio claimed below 1): holds if the CI's upper end is < 1; does not hold
  if its lower end is >= 1.
* ``all_true`` (a share claimed to be 1): holds if the measured share is 1, else does not hold.

A claim with no measurement at this scale (e.g. CIFAR-10 FID without the data and the Inception
weights) is "not measurable at this scale". The CI is a 95% percentile bootstrap over seeds
(over samples for the injection analog); "one seed" means the CI collapses to the point.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mfgstudy.store import atomic_path, open_groups, open_store

log = logging.getLogger(__name__)

HOLDS, FAILS, UNMEASURABLE = "holds", "does not hold", "not measurable at this scale"
N_BOOT = 2000


# --- verdict rules ----------------------------------------------------------------------------
def verdict(rule: str, claimed: float, lo: float, hi: float, tol: float = 0.0) -> str:
    """The verdict of ``rule`` for a measurement with CI [lo, hi] (NaN: not measured)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return UNMEASURABLE
    if rule == "improvement":
        if lo > 0 and hi >= claimed:
            return HOLDS
        return FAILS if hi < claimed else UNMEASURABLE
    if rule == "bound_slope":
        return HOLDS if hi <= claimed + tol else FAILS if lo > claimed + tol else UNMEASURABLE
    if rule == "bound_exponent":
        return HOLDS if lo >= claimed - tol else FAILS if hi < claimed - tol else UNMEASURABLE
    if rule == "ratio_below":
        return HOLDS if hi < 1 else FAILS if lo >= 1 else UNMEASURABLE
    if rule == "all_true":
        return HOLDS if lo >= 1 else FAILS
    raise ValueError(f"unknown verdict rule {rule!r}")


def bootstrap(stat, groups: list[np.ndarray], rng, n: int = N_BOOT) -> tuple[float, float, float]:
    """stat(*groups) and its 95% percentile CI, resampling each group independently."""
    point = float(stat(*groups))
    if all(len(g) < 2 for g in groups):
        return point, point, point
    boot = [stat(*(g[rng.integers(len(g), size=len(g))] for g in groups)) for _ in range(n)]
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return point, float(lo), float(hi)


# --- measurements -----------------------------------------------------------------------------
NONE = (np.nan, np.nan, np.nan, "")


def _seed_values(cubes: dict, metric: str, dataset: str, method: str) -> np.ndarray:
    """Per-seed values of an unperturbed image metric (last N), from the first sweep having it."""
    for cube in cubes.values():
        if metric in cube and "eps" not in cube.dims and dataset in cube["dataset"].values:
            if method not in cube["method"].values:
                continue
            da = cube[metric].sel({"dataset": dataset, "method": method}).isel(steps=-1)
            v = da.values.reshape(da.sizes["seed"], -1)[:, 0]
            return v[np.isfinite(v)]
    return np.array([])


def improvement(m: dict, ctx) -> tuple:
    a = _seed_values(ctx.cubes, m["metric"], m["dataset"], m["method"])
    b = _seed_values(ctx.cubes, m["metric"], m["dataset"], m["baseline"])
    if not len(a) or not len(b):
        return NONE
    sign = -1.0 if m.get("higher_is_better") else 1.0

    def stat(x, y):
        return 100.0 * sign * (y.mean() - x.mean()) / abs(y.mean())

    point, lo, hi = bootstrap(stat, [a, b], ctx.rng)
    scale = f"{m['dataset']}, {len(a)}/{len(b)} seeds, {m['metric']}"
    return point, lo, hi, scale


def n_slope(m: dict, ctx) -> tuple:
    df = ctx.slopes
    sel = df[(df["estimator"] == m["estimator"]) & (df["method"] == m["method"])
             & (df["grid"] == m["grid"]) & df["slope"].notna()]  # fmt: skip
    if sel.empty:
        return NONE
    rows = [(r.slope, r.ci_low, r.ci_high, f"{r.dataset}/{r.sampler}") for r in sel.itertuples()]
    return rows  # one ledger row per sampler / data set


def eps_exponent(m: dict, ctx) -> tuple:
    df = ctx.exponents
    if df.empty:
        return NONE
    sel = df[(df["method"] == m["method"]) & (df["estimator"] == "coupled")
             & df["perturbation"].isin(m["perturbations"]) & df["exponent"].notna()]  # fmt: skip
    return [(r.exponent, _ci(r.ci_low, r.exponent), _ci(r.ci_high, r.exponent),
             f"{r.dataset}/{r.perturbation}, eps {r.eps_range}, {r.note}")
            for r in sel.itertuples()] or NONE  # fmt: skip


def _ci(v, point):
    return point if not np.isfinite(v) else v


def _per_eps_ratios(ctx, method: str, perturbation: str) -> np.ndarray:
    """Per-seed mean over eps > 0 of W2(perturbed, clean, coupled) / eps."""
    for cube in ctx.cubes.values():
        if "eps" not in cube.dims or "w2_to_clean_coupled" not in cube:
            continue
        if method not in cube["method"].values or perturbation not in cube["perturbation"]:
            continue
        da = cube["w2_to_clean_coupled"].sel({"method": method, "perturbation": perturbation})
        da = da.isel(steps=-1).squeeze(drop=True)
        da = da.sel(eps=da["eps"] > 0)
        r = (da / da["eps"]).mean("eps").values
        return r[np.isfinite(r)]
    return np.array([])


def k_ratio(m: dict, ctx) -> tuple:
    a = _per_eps_ratios(ctx, m["method"], m["perturbation"])
    bs = [_per_eps_ratios(ctx, b, m["perturbation"]) for b in m["baselines"]]
    if not len(a) or any(not len(b) for b in bs):
        return NONE

    def stat(x, *ys):
        return x.mean() / min(y.mean() for y in ys)

    point, lo, hi = bootstrap(stat, [a, *bs], ctx.rng)
    return point, lo, hi, f"{m['perturbation']} perturbation, {len(a)} seeds"


def _table2(ctx, method: str) -> pd.DataFrame:
    df = ctx.table2
    return df[df["method"] == method] if not df.empty else df


def lowest_everywhere(m: dict, ctx) -> tuple:
    own = _table2(ctx, m["method"])
    if own.empty:
        return NONE
    wins = []
    for r in own.itertuples():
        others = ctx.table2[(ctx.table2["eps"] == r.eps) & ctx.table2["method"].isin(m["baselines"])
                            & (ctx.table2["perturbation"] == r.perturbation)]  # fmt: skip
        wins.append(bool((r.mean < others["mean"]).all()) if len(others) else np.nan)
    share = float(np.nanmean(wins))
    return (
        share,
        share,
        share,
        f"{own['dataset'].iloc[0]}, {own['metric'].iloc[0]}, "
        f"{len(wins)} eps, {int(own['seeds'].max())} seed(s)",
    )


def degradation_ratio(m: dict, ctx) -> tuple:
    def rel(method):
        t = _table2(ctx, method)
        at = t[np.isclose(t["eps"], m["eps"])]["mean"]
        base = t[t["eps"] == 0]["mean"]
        return (float(at.iloc[0]) / float(base.iloc[0]) - 1) if len(at) and len(base) else np.nan

    a, b = rel(m["method"]), rel(m["baseline"])
    if not (np.isfinite(a) and np.isfinite(b)):
        return NONE
    return a / b, a / b, a / b, f"eps = {m['eps']:g}, one value per method (no CI)"


def violation_slope(m: dict, ctx) -> tuple:
    rows = []
    for (dataset, method), logs in ctx.train_logs.items():
        curves = np.array([lg[m["variable"]].values for lg in logs])
        k = logs[0]["outer_iter"].values.astype(float)

        def stat(c, k=k):
            y = c.mean(0)
            ok = np.isfinite(y) & (y > 0)
            return np.polyfit(np.log(k[ok]), np.log(y[ok]), 1)[0] if ok.sum() >= 2 else np.nan

        point, lo, hi = bootstrap(stat, [curves], ctx.rng)
        reading = logs[0].attrs.get("reading_lr_schedule", "?")
        rows.append((point, lo, hi, f"{dataset}/{method} (lr {reading}), {len(logs)} seed(s), "
                     f"K = 1..{int(k.max())}"))  # fmt: skip
    return rows or NONE


def injection_reduction(m: dict, ctx) -> tuple:
    def success(method):
        stores = ctx.injection.get(method, [])
        return [s for s in stores]

    a, b = success(m["method"]), success(m["baseline"])
    if not a or not b:
        return NONE
    eps = a[0]["eps"].values
    moderate = ctx.moderate_eps if ctx.moderate_eps is not None else float(np.median(eps[eps > 0]))

    def hits(stores):  # per attack: classified as its target
        return np.concatenate([(s["pred"].sel(eps=moderate) == s["target"]).values for s in stores])

    xa, xb = hits(a).astype(float), hits(b).astype(float)

    def stat(x, y):
        return 100.0 * (y.mean() - x.mean()) / y.mean() if y.mean() > 0 else np.nan

    point, lo, hi = bootstrap(stat, [xa, xb], ctx.rng)
    return (
        point,
        lo,
        hi,
        f"digits analog, eps = {moderate:g} (x mean embedding norm), "
        f"{len(xa)} attacks per method; success {xa.mean():.2f} vs {xb.mean():.2f}",
    )


MEASURES = {
    "improvement": improvement,
    "n_slope": n_slope,
    "eps_exponent": eps_exponent,
    "k_ratio": k_ratio,
    "lowest_everywhere": lowest_everywhere,
    "degradation_ratio": degradation_ratio,
    "violation_slope": violation_slope,
    "injection_reduction": injection_reduction,
}


class Context:
    """Everything the measurements read, loaded once."""

    def __init__(self, cube_path, slopes_csv, exponents_csv, table2_csv, train_logs, injection,
                 spec):  # fmt: skip
        self.cubes = open_groups(cube_path)
        self.slopes = pd.read_csv(slopes_csv)
        self.exponents = _read_csv(exponents_csv)
        self.table2 = _read_csv(table2_csv)
        self.train_logs: dict[tuple, list] = {}
        for p in train_logs:
            parts = Path(p).parts  # results/models/{dataset}/{method}/seed{seed}/train_log.zarr
            self.train_logs.setdefault((parts[-4], parts[-3]), []).append(open_store(p))
        self.injection: dict[str, list] = {}
        for p in injection:
            ds = open_store(p)
            self.injection.setdefault(ds.attrs["method"], []).append(ds)
        self.moderate_eps = spec.get("moderate_eps")
        self.rng = np.random.default_rng(spec.get("seed", 0))


def _read_csv(path: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def ledger(claims_file: str, ctx: Context, study: str) -> list[dict]:
    spec = yaml.safe_load(Path(claims_file).read_text())
    tol = float(spec.get("tolerance", 0.0))
    rows = []
    for c in spec["claims"]:
        measured = MEASURES[c["measure"]["kind"]](c["measure"], ctx)
        for point, lo, hi, scale in measured if isinstance(measured, list) else [measured]:
            rows.append({
                "id": c["id"], "source": c["source"], "statement": c["statement"],
                "claimed": c["claimed"], "unit": c["unit"],
                "measured": point, "ci_low": lo, "ci_high": hi,
                "scale": f"study {study}: {scale}" if scale else f"study {study}: not run",
                "verdict": verdict(c["rule"], c["claimed"], lo, hi, tol),
                "rule": c["rule"] + (f" (tolerance {tol:g})" if "bound" in c["rule"] else ""),
            })  # fmt: skip
    return rows


def claims_job(spec: dict, claims_file: str, cube_path: str, slopes_csv: str,
               exponents_csv: str, table2_csv: str, md: str, json_out: str,
               train_logs=(), injection=()) -> None:  # fmt: skip
    t0 = time.time()
    ctx = Context(cube_path, slopes_csv, exponents_csv, table2_csv, train_logs, injection, spec)
    rows = ledger(claims_file, ctx, spec["study"])
    with atomic_path(json_out) as tmp:
        tmp.write_text(
            json.dumps(
                {
                    "study": spec["study"],
                    "claims_file": claims_file,
                    "rules": __doc__,
                    "claims": rows,
                },
                indent=1,
                default=float,
            )
        )
    with atomic_path(md) as tmp:
        tmp.write_text(render_markdown(rows, spec["study"]))
    counts = pd.Series([r["verdict"] for r in rows]).value_counts().to_dict()
    log.info("claims ledger: %d rows %s in %.1fs", len(rows), counts, time.time() - t0)


def _fmt(v) -> str:
    return "–" if not np.isfinite(v) else f"{v:.3g}"


def render_markdown(rows: list[dict], study: str) -> str:
    lines = [
        f"# Claims ledger (study `{study}`)", "",
        "Each numbered claim of the paper, the claimed value (from `workflow/claims/`), the value "
        "measured by this workflow with its 95% CI, the scale of the measurement and the verdict "
        "with the rule that decided it (rules: `mfgstudy.claims`). A claim that does not hold is "
        "a result.", "",
        "| claim | source | claimed | measured [95% CI] | unit | scale | verdict | rule |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        lines.append(f"| {r['id']}: {r['statement']} | {r['source']} | {r['claimed']:g} | "
                     f"{_fmt(r['measured'])} {ci} | {r['unit']} | {r['scale']} | "
                     f"**{r['verdict']}** | {r['rule']} |")  # fmt: skip
    return "\n".join(lines) + "\n"
