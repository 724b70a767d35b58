"""The MFG laboratory's HJB-regularised SGM variants: comparisons against a baseline variant and
single statistics, behind the plain model's checkerboard gate."""

from __future__ import annotations

import numpy as np

from mfgstudy.rates import welch_interval
from mfgstudy.report.claims.gates import LEVEL
from mfgstudy.report.claims.measures.common import (
    divergence_gate,
    per_seed,
    percent_better,
    study_cube,
    study_gate,
)
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import CONTEXT, JUDGED, Condition


@measure("variant_comparison", evidence=("hjb_checkerboard", "fig_hjb_checkerboard"), gate=LEVEL)
def variant_comparison(m: dict, ctx) -> list[Condition]:
    """HJB-regularised SGM variants against a baseline variant (MFG laboratory, section 7): per
    comparison, the % by which the variant is better (``better``: lower or higher ``metric``),
    over seeds; every row behind the gate of the study's plain model (``gate``)."""
    cube = study_cube(ctx, m["study"])
    out = []
    for c in m["comparisons"]:
        label = f"{c['metric']}: {c['method']} vs {c['baseline']} ({c['better']} is better)"
        role = c.get("role", JUDGED)
        a = per_seed(cube, c["metric"], c["method"])
        b = per_seed(cube, c["metric"], c["baseline"])
        diverged = divergence_gate(cube, (c["method"], c["baseline"]))
        if diverged is not None:
            out.append(Condition(label, np.nan, role=role, fidelity=diverged, ran=True))
            continue
        if not len(a) or not len(b):
            why = f"no {c['metric']} of {c['method']} and {c['baseline']} at this scale"
            out.append(Condition(label, np.nan, role=role, reason=why))
            continue
        point, lo, hi, over = percent_better(a, b, c["better"] == "higher")
        scale = (f"{c['metric']}: {c['method']} {a.mean():.3g}, {c['baseline']} {b.mean():.3g} "
                 f"(means over {len(a)}/{len(b)} seeds)")  # fmt: skip
        out.append(Condition(label, point, lo, hi, over, min(len(a), len(b)), scale, role=role,
                             fidelity=study_gate(ctx, cube, m["gate"])))  # fmt: skip
    return out


@measure("variant_value", evidence=("hjb_checkerboard", "fig_hjb_checkerboard"), gate=LEVEL)
def variant_value(m: dict, ctx) -> list[Condition]:
    """One statistic of HJB-regularised SGM variants (e.g. the edge-band mass relative to the
    law's own), mean over seeds with its interval; ``methods`` judged, ``context`` beneath."""
    cube = study_cube(ctx, m["study"])
    out = []
    for role, methods in ((JUDGED, m["methods"]), (CONTEXT, m.get("context", []))):
        for method in methods:
            v = per_seed(cube, m["metric"], method)
            diverged = divergence_gate(cube, (method,))
            if diverged is not None:
                out.append(Condition(f"{method}: {m['metric']}", np.nan, role=role,
                                     fidelity=diverged, ran=True))  # fmt: skip
                continue
            if not len(v):
                why = f"no {m['metric']} of {method} at this scale"
                out.append(Condition(f"{method}: {m['metric']}", np.nan, role=role, reason=why))
                continue
            point, lo, hi, over = welch_interval(v)
            out.append(Condition(
                f"{method}: {m['metric']}", point, lo, hi, over, len(v),
                f"{m['metric']} mean over {len(v)} seed(s)", role=role,
                fidelity=study_gate(ctx, cube, m["gate"])))  # fmt: skip
    return out
