"""The fidelity gates: whether a model has learned its data well enough to enter a comparison
(the bars of the claims files), and which models a measurement's gate covers by its kind
(``GATE_RULES``; each measurement names its rule where it is registered)."""

from __future__ import annotations

import numpy as np

from mfgstudy.report.claims.verdicts import as_number, fmt

# Fidelity gates by claim kind (module docstring): which models a measurement's gate covers.
LEVEL, SENSITIVITY = "level comparison", "sensitivity"


GATE_RULES = {
    LEVEL: "the baselines and the control are gated (each within the bar of the best of the "
    "paper's baselines); the method is not: a method that has not learned the data loses",
    SENSITIVITY: "every model compared is gated, the method included: a model that has "
    "learned nothing moves little and memorises nothing, which would confirm the claim "
    "vacuously",
}


def points_gate(w2: float, floor: float, bar: dict) -> dict:
    """A 2-D model passes if its W2 to the data is within ``max_floor_ratio`` x the floor."""
    ratio = w2 / floor if np.isfinite(w2) and floor > 0 else np.nan
    ok = bool(np.isfinite(ratio) and ratio <= bar["max_floor_ratio"])
    return {"passed": ok, "bar": f"W2 to the data <= {bar['max_floor_ratio']:g} x floor",
            "numbers": {"w2_to_data": as_number(w2), "floor": as_number(floor),
                        "ratio": as_number(ratio)},
            "summary": f"W2 {fmt(w2)} = {fmt(ratio)} x floor {fmt(floor)} "
                       f"(bar {bar['max_floor_ratio']:g})"}  # fmt: skip


def images_gate(fd: dict[str, float], gated: list[str], reference: list[str], bar: dict) -> dict:
    """Every ``gated`` model passes if its FD is within ``max_best_ratio`` x the best FD among
    ``reference`` (the paper's baselines measured here)."""
    best = min((fd.get(b, np.nan) for b in reference if np.isfinite(fd.get(b, np.nan))),
               default=np.nan)  # fmt: skip
    ratios = {m: fd.get(m, np.nan) / best for m in gated}
    failed = [m for m, r in ratios.items() if not (np.isfinite(r) and r <= bar["max_best_ratio"])]
    text = ", ".join(f"{m} {fmt(fd.get(m, np.nan))} ({fmt(r)} x best)" for m, r in ratios.items())
    return {"passed": not failed, "bar": f"FD <= {bar['max_best_ratio']:g} x the best baseline's",
            "numbers": {m: as_number(fd.get(m, np.nan)) for m in gated},
            "summary": f"FD at eps 0: {text}; best baseline {fmt(best)}"}  # fmt: skip


def accuracy_gate(acc: dict[str, float], bar: dict) -> dict:
    """Every attacked model passes if its clean conditional accuracy is >= the bar."""
    failed = [m for m, a in acc.items() if not (np.isfinite(a) and a >= bar["min_clean_accuracy"])]
    text = ", ".join(f"{m} {fmt(a)}" for m, a in acc.items())
    return {"passed": not failed,
            "bar": f"clean conditional accuracy >= {bar['min_clean_accuracy']:g}",
            "numbers": {m: as_number(a) for m, a in acc.items()},
            "summary": f"clean conditional accuracy {text} "
                       f"(bar {bar['min_clean_accuracy']:g})"}  # fmt: skip


def support_gate(w2: float, floor: float, in_support: float, bar: dict) -> dict:
    """A 2-D model of a law on a support (the checkerboard) passes if at least
    ``min_in_support`` of its samples lie in the support and, where the bar has
    ``max_floor_ratio``, its W2 to the data is within that many times the finite-sample floor."""
    inside = bool(np.isfinite(in_support) and in_support >= bar["min_in_support"])
    gate = {
        "passed": inside,
        "bar": f"in support >= {bar['min_in_support']:g}",
        "numbers": {"in_support": as_number(in_support)},
        "summary": f"in support {fmt(in_support)} (bar {bar['min_in_support']:g})",
    }
    if "max_floor_ratio" not in bar:
        return gate
    ratio = w2 / floor if np.isfinite(w2) and floor > 0 else np.nan
    near = bool(np.isfinite(ratio) and ratio <= bar["max_floor_ratio"])
    return {"passed": inside and near,
            "bar": f"{gate['bar']} and W2 <= {bar['max_floor_ratio']:g} x floor",
            "numbers": {**gate["numbers"], "w2_to_data": as_number(w2), "floor": as_number(floor),
                        "ratio": as_number(ratio)},
            "summary": f"{gate['summary']}; W2 {fmt(w2)} = {fmt(ratio)} x floor {fmt(floor)} "
                       f"(bar {bar['max_floor_ratio']:g})"}  # fmt: skip
