"""Table 1 and its analog on digits: the method's image metric against a baseline's, over seeds,
with the metric's own resolution (its spread over disjoint real sets of the same size)."""

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


def image_resolution(a, b, floor: float, sd: float, higher_is_better: bool = False) -> dict:
    """Whether an image metric resolves the difference of two arms' means: it must exceed twice
    the metric's own spread at this sample size (``sd``: over resampled sets of held-out real
    data); beside it, which arm scores beyond held-out real data (``floor``): closer to its
    training set than fresh data of the law is."""
    diff = abs(float(np.mean(a)) - float(np.mean(b)))
    beyond = [f"{x:.4g}" for x in (np.mean(a), np.mean(b))
              if (x > floor if higher_is_better else x < floor)]  # fmt: skip
    text = (f"|difference| {diff:.3g} vs resolution {2 * sd:.3g} (2 x sd {sd:.3g} of the metric "
            f"over disjoint real sets of this size); real data {floor:.4g}")  # fmt: skip
    if beyond:
        text += f" ({', '.join(beyond)} beyond real data: nearer the training set)"
    return {"passed": bool(diff > 2.0 * sd), "summary": text}


def _improvement(label, m, a, b, ctx, name_a, name_b) -> Condition:
    higher = bool(m.get("higher_is_better"))
    point, lo, hi, over = percent_better(a, b, higher)
    scale = (f"{m['metric']}: {name_a} {a.mean():.4g}, {name_b} {b.mean():.4g} "
             f"(means over {len(a)}/{len(b)} seeds)")  # fmt: skip
    floor, sd = image_floor(ctx.cubes, m["metric"], m["dataset"])
    resolution = image_resolution(a, b, floor, sd, higher) if np.isfinite(sd) else None
    if resolution:
        scale += f"; {resolution['summary']}"
    return Condition(label, point, lo, hi, over, min(len(a), len(b)), scale,
                     resolution=resolution)  # fmt: skip
