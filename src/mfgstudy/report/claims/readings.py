"""Which reading of Algorithm 1 is MFG-Diffusion: the claims file's rule applied to the
closed-form equilibria (``choose_reading``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mfgstudy.report.claims.verdicts import as_number, fmt


@dataclass
class Reading:
    """The outcome of a claims file's ``reading:`` rule: the reading judged as the method, the
    printed one, and every candidate with the numbers that decided it."""

    printed: str
    chosen: str
    rule: str
    candidates: list[dict]


def choose_reading(rule: dict | None, readings: dict, table: pd.DataFrame) -> Reading | None:
    """Apply a ``reading:`` rule (``printed``, ``candidates``, ``equilibrium: {sampler,
    max_w2_to_data}``) to the closed-form equilibrium table (``mfgstudy.analysis.mfg_equilibrium``)
    and the candidates' readings (switches and constants, ``claims_spec``). Needs no trained
    model: a candidate qualifies if its equilibrium on the Gaussian law exists on [t_min, T] and
    the sampler's exact output law at its largest N lies within ``max_w2_to_data`` of the data
    law; of the qualifying ones, the fewest switches changed from the printed reading wins (ties:
    the smaller W2). None qualifying: the printed reading, saying so."""
    if not rule:
        return None
    printed, bar = rule["printed"], rule["equilibrium"]
    text = (f"a reading qualifies if its closed-form equilibrium on the Gaussian law exists on "
            f"[t_min, T] and the exact output law of sampler {bar['sampler']} at its largest N "
            f"lies within W2 {bar['max_w2_to_data']:g} of the data law; of those, the one "
            "changing the fewest of the printed switches (ties: the smaller W2)")  # fmt: skip
    base = readings.get(printed, {})
    rows = []
    for name in rule["candidates"]:
        r = readings.get(name)
        if r is None:
            rows.append({"method": name, "qualifies": False, "w2_to_data": None, "changed": [],
                         "why": "not an mfg method of this config"})  # fmt: skip
            continue
        changed = sorted(k for k in r if r[k] != base.get(k))
        w2, why = _equilibrium_w2(table, r, bar)
        ok = bool(np.isfinite(w2) and w2 <= bar["max_w2_to_data"])
        if np.isfinite(w2):
            why = f"W2 to the data {fmt(w2)} {'<=' if ok else '>'} {bar['max_w2_to_data']:g}"
        rows.append({"method": name, "qualifies": ok, "w2_to_data": as_number(w2),
                     "changed": changed, "why": why})  # fmt: skip
    passed = [c for c in rows if c["qualifies"]]
    if passed:
        chosen = min(passed, key=lambda c: (len(c["changed"]), c["w2_to_data"]))["method"]
    else:
        chosen, text = printed, text + "; no candidate qualifies: the printed reading is judged"
    return Reading(printed, chosen, text, rows)


def _equilibrium_w2(table: pd.DataFrame, reading: dict, bar: dict) -> tuple[float, str]:
    """(W2 of the reading's exact equilibrium output law to the data law, why not) from the
    closed-form equilibrium table."""
    if table.empty:
        return np.nan, "no closed-form equilibrium at this scale (config mfg_equilibrium)"
    key = (reading["value_target"], reading["weighting"], reading["lambda"])
    rows = table[
        (table["value_target"] == key[0])
        & (table["weighting"] == key[1])
        & np.isclose(table["lambda"], key[2])
        & (table["sampler"] == bar["sampler"])
    ]
    if rows.empty:
        return np.nan, (
            f"no closed-form row for value_target {key[0]}, weighting {key[1]}, "
            f"lambda {key[2]:g}, sampler {bar['sampler']} (config mfg_equilibrium)"
        )
    last = rows.sort_values("steps").iloc[-1]
    if not bool(last["exists"]):
        return np.nan, f"no equilibrium on [t_min, T] (blow-up at t = {last['t_blowup']:.4g})"
    if not bool(last["finite_output"]):
        return np.nan, f"the sampler's iterates diverge at N = {int(last['steps'])}"
    return float(last["w2_to_data"]), ""


def mfg_readings(methods: dict) -> dict:
    """Every MFG-Diffusion method's switches and constants, defaults filled in (imported where
    needed: the method's module brings torch)."""
    if not methods:
        return {}
    from mfgstudy.analysis.mfg_equilibrium import reading_of

    return {name: reading_of(spec) for name, spec in methods.items()}
