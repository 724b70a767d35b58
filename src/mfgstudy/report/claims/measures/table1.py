"""Table 1 and its analog on digits: the method's image metric against a baseline's, over seeds,
with the metric's own resolution (its spread at the compared sets' size)."""

from __future__ import annotations

import numpy as np

from mfgstudy.report.claims.gates import LEVEL, images_gate
from mfgstudy.report.claims.measures.common import PAPER_BASELINES, percent_better, seed_values
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import CONTEXT, Condition


@measure("improvement", evidence=("table1_images",), gate=LEVEL)
def improvement(m: dict, ctx) -> list[Condition]:
    """% better than the baseline, over seeds: a level comparison, gated on the baseline (and
    the ``control`` where one is named: Algorithm 1's loop without its value correction) having
    learned the data, against the best of the paper's baselines here. A method that failed to
    learn is not gated: it loses. With a control, the control's own comparison and the method
    against its control (the correction's effect) are context rows."""
    a = seed_values(ctx.cubes, m["metric"], m["dataset"], m["method"])
    b = seed_values(ctx.cubes, m["metric"], m["dataset"], m["baseline"])
    label = f"{m['dataset']}: {m['method']} vs {m['baseline']}"
    if not len(a) or not len(b):
        return [Condition(label, np.nan, reason=f"no {m['metric']} of {m['method']} and "
                          f"{m['baseline']} on {m['dataset']} here")]  # fmt: skip
    out = [_improvement(label, m, a, b, ctx, m["method"], m["baseline"])]
    control = m.get("control")
    gate_metric = "fd_digits" if m["dataset"] == "digits" else "fid"
    fd = {k: seed_values(ctx.cubes, gate_metric, m["dataset"], k)
          for k in {*PAPER_BASELINES, m["baseline"], *([control] if control else [])}}  # fmt: skip
    fd = {k: float(v.mean()) for k, v in fd.items() if len(v)}
    if "images" in ctx.settings.fidelity and fd:
        out[0].fidelity = images_gate(fd, [m["baseline"], *([control] if control else [])],
                                      [b for b in PAPER_BASELINES if b in fd],
                                      ctx.settings.fidelity["images"])  # fmt: skip
    c = seed_values(ctx.cubes, m["metric"], m["dataset"], control) if control else []
    if not len(c):
        return out
    pairs = [(f"{control} vs {m['baseline']}", c, b, control, m["baseline"]),
             (f"{m['method']} vs {control} (the value correction's own effect)", a, c,
              m["method"], control)]  # fmt: skip
    for text, x, y, name_x, name_y in pairs:
        row = _improvement(f"{m['dataset']}: {text}", m, x, y, ctx, name_x, name_y)
        row.role = CONTEXT
        out.append(row)
    return out


def image_floor(cubes: dict, metric: str, dataset: str) -> tuple[float, float]:
    """(the metric of the held-out real split against the training split, its sd over disjoint
    real sets of the same size) from the first unperturbed sweep that has them."""
    for cube in cubes.values():
        if f"{metric}_floor_sd" in cube and "eps" not in cube.dims and \
                dataset in cube["dataset"].values:  # fmt: skip
            return (float(cube[f"{metric}_floor"].sel(dataset=dataset)),
                    float(cube[f"{metric}_floor_sd"].sel(dataset=dataset)))  # fmt: skip
    return np.nan, np.nan


def image_resolution(
    a,
    b,
    floor: float,
    sd: float,
    higher_is_better: bool = False,
    spread: str = "over disjoint real sets of this size",
) -> dict:
    """What an image metric resolves between two arms (``a`` the method's per-seed values, ``b``
    the baseline's): ``passed`` where their means differ by more than twice the metric's own
    spread at this sample size (``sd``, measured as ``spread`` says), with ``sd``, the baseline's
    mean and ``better_by`` (how much a's mean is better, in the metric's units) for the claimed
    difference (``verdicts.unresolved_by_metric``); beside it, which arm scores beyond held-out
    real data (``floor``): closer to its training set than fresh data of the law is."""
    better_by = float(np.mean(a) - np.mean(b)) * (1.0 if higher_is_better else -1.0)
    diff = abs(better_by)
    beyond = [f"{x:.4g}" for x in (np.mean(a), np.mean(b))
              if (x > floor if higher_is_better else x < floor)]  # fmt: skip
    text = (f"|difference| {diff:.3g} vs resolution {2 * sd:.3g} (2 x sd {sd:.3g} of the metric "
            f"{spread}); real data {floor:.4g}")  # fmt: skip
    if beyond:
        text += f" ({', '.join(beyond)} beyond real data: nearer the training set)"
    return {"passed": bool(diff > 2.0 * sd), "summary": text, "sd": float(sd),
            "better_by": better_by, "baseline": float(np.mean(b))}  # fmt: skip


def metric_sd(ctx, metric: str, dataset: str, arms, real_sd: float) -> tuple[float, str]:
    """The metric's own sd at the compared sets' size: for a Fréchet distance, the jackknife sd
    of each generated set (``<metric>_sd``, ``mfgstudy.metrics.features.jackknife_sd``), root
    mean square over the seeds of both arms, measured on the very sets compared at their n; for
    the other image metrics, their sd over disjoint real sets of the same size (the floor job)."""
    own = [seed_values(ctx.cubes, f"{metric}_sd", dataset, arm) for arm in arms]
    if all(len(v) for v in own):
        sd = float(np.sqrt(np.mean(np.concatenate(own) ** 2)))
        return sd, "jackknife over each compared set, r.m.s. over the seeds of both arms"
    return real_sd, "over disjoint real sets of this size"


def _improvement(label, m, a, b, ctx, name_a, name_b) -> Condition:
    higher = bool(m.get("higher_is_better"))
    point, lo, hi, over = percent_better(a, b, higher)
    scale = (f"{m['metric']}: {name_a} {a.mean():.4g}, {name_b} {b.mean():.4g} "
             f"(means over {len(a)}/{len(b)} seeds)")  # fmt: skip
    floor, real_sd = image_floor(ctx.cubes, m["metric"], m["dataset"])
    sd, spread = metric_sd(ctx, m["metric"], m["dataset"], (name_a, name_b), real_sd)
    resolution = image_resolution(a, b, floor, sd, higher, spread) if np.isfinite(sd) else None
    if resolution:
        scale += f"; {resolution['summary']}"
    return Condition(label, point, lo, hi, over, min(len(a), len(b)), scale,
                     resolution=resolution)  # fmt: skip
