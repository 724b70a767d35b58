"""The injection analog of section 7.4: attack success on the class embedding, method against a
baseline, over seeds."""

from __future__ import annotations

import numpy as np

from mfgstudy.report.claims.gates import SENSITIVITY, accuracy_gate
from mfgstudy.report.claims.measures.common import percent_better
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition


@measure("injection_reduction", evidence=("fig_injection_analog",), gate=SENSITIVITY)
def injection_reduction(m: dict, ctx) -> list[Condition]:
    label = f"{m['method']} vs {m['baseline']}"
    a, b = ctx.injection.get(m["method"], []), ctx.injection.get(m["baseline"], [])
    if not a or not b:
        return [Condition(label, np.nan, reason="no injection analog at this scale")]
    eps = a[0]["eps"].values
    moderate = ctx.moderate_eps if ctx.moderate_eps is not None else float(np.median(eps[eps > 0]))

    def success(stores):  # per seed: share of attacks classified as their target
        return np.array([float((s["pred"].sel(eps=moderate) == s["target"]).mean())
                         for s in stores])  # fmt: skip

    def clean_accuracy(stores):
        return float(np.mean([float(s["source_accuracy"].sel(eps=0.0)) for s in stores]))

    xa, xb = success(a), success(b)

    point, lo, hi, over = percent_better(xa, xb)
    gate = accuracy_gate({m["method"]: clean_accuracy(a), m["baseline"]: clean_accuracy(b)},
                         ctx.settings.fidelity["injection"])  # fmt: skip
    n_attacks = int(a[0].sizes["sample"])
    scale = (f"digits analog, eps = {moderate:g} (x mean embedding norm), {n_attacks} attacks "
             f"per model; success {xa.mean():.2f} vs {xb.mean():.2f}")  # fmt: skip
    return [Condition(label, point, lo, hi, over, min(len(xa), len(xb)), scale, fidelity=gate)]
