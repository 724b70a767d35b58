"""The claims ledger: every numbered claim of the papers beside what this study measured.

The claimed values and the fidelity bars live in one data file per paper (``workflow/claims/``:
``mfg_paper.yaml`` for the main paper, ``mfg_laboratory.yaml`` and ``pde_perspective.yaml`` for
the companion papers), read here and nowhere else; the ledger has one section per file. Each
claim names a measurement (``measure.kind``: computed from the rate tables, the metrics cube,
the MFG training logs, the injection stores or the companion studies' tables) that yields one
or more *conditions* (per law, sampler, perturbation, method or reading), and a verdict rule.

Verdicts, one vocabulary (``VOCABULARY``, printed in the ledger's header):

* ``reproduced``: the interval lies inside the claimed value's tolerance, or is better than
  the claimed value in the claimed direction (by at least the claimed margin).
* ``does not hold``: the interval excludes the claimed value, in the wrong direction.
* ``inconclusive``: the interval is too wide to tell; or there is no interval (one seed of a
  trained model, or fewer than ``rates.min_seeds`` seeds for a rate fitted over seeds: the row
  shows the point estimate as *indicative* only); or a rate
  is not in its asymptotic regime over the grid that was run (or the grid has too few usable
  points for a tail); or an upper-bound estimator (a coupled pathwise error) falls short of a
  bound claim, which it cannot refute; or a lower-bound estimator (moments, mass transfer)
  meets it, which it cannot confirm.
* ``not comparable``: a model failed the claim's fidelity gate (the bars of the claims file,
  applied by the claim's kind, below), or a compared model's sampler diverged (non-finite
  samples: there is no law to compare); the row shows the numbers that failed, or the
  non-finite share per seed.
* ``not measurable at this scale``: the study did not measure it at this scale (e.g. CIFAR-10
  FID without the data and the Inception weights).
* ``shown, not judged``: the paper states no direction (``rule: qualitative``, e.g. "has the
  potential to", "different behaviour"): the measurement is shown, no verdict is invented.

Rules per claim (``rule``), applied to a condition's interval [lo, hi]:

* ``improvement`` (claimed: % better than a baseline): reproduced if lo >= claimed; does not
  hold if hi < claimed; else inconclusive.
* ``bound_slope`` (a rate O(x^c), c < 0, as x -> inf): reproduced if hi <= c + tolerance; does not
  hold if lo > c + tolerance.
* ``bound_exponent`` (W2 <= K eps^a as eps -> 0): reproduced if lo >= a - tolerance; does not hold
  if hi < a - tolerance.
* ``ratio_below`` (a ratio claimed below 1): reproduced if hi < 1; does not hold if lo >= 1.
* ``all_true`` (a share claimed to be 1): [lo, hi] is the share of cases where the claim holds
  by its interval, and where its interval does not exclude it: reproduced if lo = 1, does not
  hold if hi < 1 (an interval refutes it somewhere).
* ``at_most`` (a quantity claimed <= a value, e.g. an error that is 0 up to round-off):
  reproduced if hi <= claimed + tolerance; does not hold if lo > claimed + tolerance.
* ``at_least`` (a quantity claimed >= a value, e.g. a share claimed to be 1, a ratio claimed
  above 1): reproduced if lo >= claimed - tolerance; does not hold if hi < claimed - tolerance.
* ``qualitative``: shown, not judged.

The tolerance is the claims file's (on exponents), or the claim's own ``tolerance`` where it
gives one (a round-off bar, a share's margin).

Bound claims are decided from the right side (``BOUND_RULES``). A bound (W2 <= K eps^a, a rate
O(N^c)) is confirmed only by an estimator that bounds the quantity from above or computes it
exactly, and refuted only by one that bounds it from below or computes it exactly. An estimate
with no bias bound (the law-level MW2, which lies above the coupled upper bound where it is
biased upward) is shown as context and decides nothing. One judged condition may be measured by
several estimators (a *group*); the group does not hold if one of them refutes the claim and is
reproduced if one confirms it.

Rates (``mfgstudy.rates``) are judged on their tail only: points below their estimator's floor
or whose value moved by more than ``rates.max_refinement_change`` under refinement (N vs 2N
steps, a grid twice as fine) are excluded; the regime test holds the drift of the last two
local slopes to its own jackknife standard error (seeds or sample blocks), and to
``rates.regime_tol_exact`` for a closed form.

Fidelity gates by claim kind (``GATE_KINDS``): a *level comparison* (the method's metric against
a baseline's) gates the baselines and the control (the method with its correction switched
off), each within the bar of the best of the paper's baselines: a method that has not learned
the data is a legitimate loser, and the comparison is not comparable only when a baseline or
the control failed. A *sensitivity* claim (how much a model's output moves with eps: the
degradation ratio, the K ratio, attack success) or a *novelty* claim (memorising less than the
exact score) gates every model it compares, the method included: a model that has learned
nothing moves little and memorises nothing, which would confirm such a claim vacuously.

Which reading of Algorithm 1 is "MFG-Diffusion" (``reading:`` in the paper's claims file) is
decided before the runs by a rule that needs no trained model: a candidate reading qualifies if
its closed-form equilibrium on the Gaussian law exists on [t_min, T] and its exact output law
lies within the stated W2 of the data law; of the qualifying readings, the one that changes the
fewest of the printed switches (ties: the smaller W2). Comparative claims about MFG-Diffusion
are judged under it; the printed reading's conditions are shown beneath each such claim with
their own verdicts (they are a result in themselves).

A claim's summary verdict comes from its *judged* conditions (the claim's own setting; e.g. the
equilibrium of the perturbed cost for Theorem 4, the exact score for Corollary 5): does not hold
if any does not hold; reproduced if all are reproduced; not comparable or not measurable if all
are; otherwise inconclusive. *Context* conditions (e.g. trained models under Corollary 5, the
printed reading) are shown beneath it with their own verdicts and do not decide the summary. An
interval that decides a verdict matches its source of randomness: across seeds of trained
models a Welch-Satterthwaite interval (``mfgstudy.rates.welch_interval``, log scale for ratios
and percentages, valid from two seeds per arm); within one run with Monte Carlo noise only, the
Clopper-Pearson interval of a pooled count (``binomial_interval``) or a jackknife over sample
blocks; a rate fitted over seeds, a jackknife-t over at least ``min_seeds`` seeds; an exact
closed form, the point. Each row says which. An image metric (FD-digits, IS-digits, FID) also
has a resolution (``image_resolution``): a comparison decides only where the two means differ by
more than twice the metric's sd over disjoint real sets of the same size.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from mfgstudy import strict_yaml
from mfgstudy.errors import UserError
from mfgstudy.rates import (
    MIN_SEEDS,
    RateSpec,
    binomial_interval,
    fit_rate,
    rate_columns,
    welch_interval,
)
from mfgstudy.store import atomic_path, open_groups, open_store

log = logging.getLogger(__name__)

REPRODUCED = "reproduced"
FAILS = "does not hold"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
UNMEASURABLE = "not measurable at this scale"
QUALITATIVE = "shown, not judged"
VOCABULARY = {
    REPRODUCED: "the interval lies inside the claimed value's tolerance, or is better than the "
    "claimed value in the claimed direction (by at least the claimed margin)",
    FAILS: "the interval excludes the claimed value in the wrong direction",
    INCONCLUSIVE: "the interval is too wide; or there is none (fewer seeds than needed: the "
    "point estimate is indicative only); or a rate is not in its asymptotic regime; or an "
    "upper-bound estimator falls short of a bound claim, which it cannot refute",
    NOT_COMPARABLE: "a model failed the claim's fidelity gate (bars in the claims file, applied "
    "by the claim's kind), or its sampler diverged (non-finite samples); the numbers that failed "
    "are shown",
    UNMEASURABLE: "not measured at this scale (data, weights or compute of the paper's scale)",
    QUALITATIVE: "the paper states no direction: the measurement is shown beside the statement, "
    "no verdict is invented",
}
JUDGED, CONTEXT = "judged", "context"
BOUND_RULES = ("bound_slope", "bound_exponent")  # decided from the right side only

# Fidelity gates by claim kind (module docstring): which models a measurement's gate covers.
LEVEL, SENSITIVITY = "level comparison", "sensitivity"
GATE_RULES = {
    LEVEL: "the baselines and the control are gated (each within the bar of the best of the "
    "paper's baselines); the method is not: a method that has not learned the data loses",
    SENSITIVITY: "every model compared is gated, the method included: a model that has "
    "learned nothing moves little and memorises nothing, which would confirm the claim "
    "vacuously",
}
GATE_KINDS = {
    "improvement": LEVEL, "lowest_everywhere": LEVEL, "variant_comparison": LEVEL,
    "variant_value": LEVEL, "degradation_ratio": SENSITIVITY, "k_ratio": SENSITIVITY,
    "injection_reduction": SENSITIVITY, "memorisation": SENSITIVITY,
}  # fmt: skip


@dataclass
class Condition:
    """One measured condition of a claim (a law, a sampler, a perturbation, a method...)."""

    label: str
    measured: float
    ci_low: float = np.nan
    ci_high: float = np.nan
    ci_over: str = ""
    n_seeds: int | str = 0  # "exact" for a closed form
    scale: str = ""
    role: str = JUDGED
    regime: dict | None = None  # rates: passed, tail, local slopes
    fidelity: dict | None = None  # gate: passed, bar, numbers
    resolution: dict | None = None  # an image metric's: passed, summary (``image_resolution``)
    upper_bound: bool = False  # the estimator bounds the quantity from above
    lower_bound: bool = False  # ... from below
    estimate: bool = False  # ... neither, and its bias is not bounded (a law-level MW2)
    group: str = ""  # estimators of one judged condition (e.g. a law and perturbation)
    ran: bool = False  # measured at this scale, even if no value could be read (a rate's tail)
    verdict: str = ""
    reason: str = ""


@dataclass
class Settings:
    """What the rules need besides the claimed value: from the claims file and the study."""

    tolerance: float = 0.2
    min_seeds: int = MIN_SEEDS
    fidelity: dict = field(default_factory=dict)
    paper: str = ""  # the claims file's `paper:` (the ledger's section heading)
    reading: dict | None = None  # the claims file's `reading:` rule (which reading is MFG's)


# --- verdict rules ----------------------------------------------------------------------------
def interval_verdict(rule: str, claimed: float, lo: float, hi: float, tol: float = 0.0) -> str:
    """The verdict of ``rule`` for an interval [lo, hi] (both finite)."""
    if rule == "improvement":
        return REPRODUCED if lo >= claimed else FAILS if hi < claimed else INCONCLUSIVE
    if rule == "bound_slope":
        return REPRODUCED if hi <= claimed + tol else FAILS if lo > claimed + tol else INCONCLUSIVE
    if rule == "bound_exponent":
        return REPRODUCED if lo >= claimed - tol else FAILS if hi < claimed - tol else INCONCLUSIVE
    if rule == "ratio_below":
        return REPRODUCED if hi < 1 else FAILS if lo >= 1 else INCONCLUSIVE
    if rule == "all_true":
        return REPRODUCED if lo >= 1 else FAILS if hi < 1 else INCONCLUSIVE
    if rule == "at_most":
        return REPRODUCED if hi <= claimed + tol else FAILS if lo > claimed + tol else INCONCLUSIVE
    if rule == "at_least":
        return REPRODUCED if lo >= claimed - tol else FAILS if hi < claimed - tol else INCONCLUSIVE
    if rule == "qualitative":
        return QUALITATIVE
    raise ValueError(f"unknown verdict rule {rule!r}")


def judge(rule: str, claimed: float, c: Condition, tol: float = 0.0) -> tuple[str, str]:
    """(verdict, reason) of one condition, in the order: fidelity gate, measured at all,
    asymptotic regime, an interval from enough replicates, the rule on the interval (from the
    right side for a bound claim)."""
    if rule == "qualitative":
        return QUALITATIVE, "the paper states no direction: shown beside the statement"
    if c.fidelity is not None and not c.fidelity["passed"]:
        return NOT_COMPARABLE, f"fidelity gate failed: {c.fidelity['summary']}"
    if not np.isfinite(c.measured):
        if c.ran:  # measured, but the grid does not resolve a value (e.g. too few points)
            return INCONCLUSIVE, c.reason or "no value could be read from the measurement"
        return UNMEASURABLE, c.reason or "not measured at this scale"
    if c.regime is not None and not c.regime["passed"]:
        return INCONCLUSIVE, f"not in the asymptotic regime over {c.regime['grid']}"
    if c.resolution is not None and not c.resolution["passed"]:
        return INCONCLUSIVE, f"below the metric's resolution: {c.resolution['summary']}"
    if not (np.isfinite(c.ci_low) and np.isfinite(c.ci_high)):
        point = interval_verdict(rule, claimed, c.measured, c.measured, tol)
        return INCONCLUSIVE, f"no interval ({c.ci_over or 'too few seeds'}); indicative: {point}"
    word = interval_verdict(rule, claimed, c.ci_low, c.ci_high, tol)
    if word == FAILS and c.upper_bound:
        return INCONCLUSIVE, "an upper-bound estimate short of a bound claim cannot refute it"
    if word == REPRODUCED and c.lower_bound:
        return INCONCLUSIVE, "a lower-bound estimate cannot confirm a bound claim"
    if rule in BOUND_RULES and c.estimate and word != INCONCLUSIVE:
        return INCONCLUSIVE, (f"indicative: {word}; an estimate with no bias bound decides no "
                              "bound claim")  # fmt: skip
    if word == INCONCLUSIVE:
        return word, "the interval holds both the claim and its failure"
    return word, f"interval [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}] ({c.ci_over})"


def group_verdict(words: list[str]) -> str:
    """One judged condition measured by several estimators (bounds from above and below, a
    law-level estimate): does not hold if one refutes it, reproduced if one confirms it."""
    if FAILS in words:
        return FAILS
    if REPRODUCED in words:
        return REPRODUCED
    return words[0] if len(set(words)) == 1 else INCONCLUSIVE


def deciding_condition(conditions: list[Condition], verdict: str) -> int | None:
    """The index of the judged condition that decided a claim's summary ``verdict``: the first
    judged one whose own verdict is the summary's (a refutation on the separated law, not the
    reproduction on the overlapping one beside it), an exact one before the others; else the
    first judged one."""
    judged = [i for i, c in enumerate(conditions) if c.role == JUDGED]
    same = [i for i in judged if conditions[i].verdict == verdict]
    same.sort(key=lambda i: conditions[i].n_seeds != "exact")  # an exact value first
    return (same or judged or [None])[0]


def summary_verdict(conditions: list[Condition]) -> tuple[str, str]:
    """A claim's verdict from its judged conditions (see the module docstring); conditions of
    one ``group`` (estimators of the same law and perturbation) count once."""
    judged = [c for c in conditions if c.role == JUDGED]
    if not judged:
        return UNMEASURABLE, "no condition measured at this scale"
    groups: dict[str, list[str]] = {}
    for i, c in enumerate(judged):
        groups.setdefault(c.group or f"#{i}", []).append(c.verdict)
    words = [group_verdict(v) for v in groups.values()]
    counts = pd.Series(words).value_counts()
    tally = ", ".join(f"{n} {w}" for w, n in counts.items()) + f" of {len(words)}"
    if FAILS in counts:
        return FAILS, tally
    for word in (REPRODUCED, NOT_COMPARABLE, UNMEASURABLE, QUALITATIVE):
        if counts.get(word, 0) == len(words):
            return word, tally
    return INCONCLUSIVE, tally


# --- fidelity gates ---------------------------------------------------------------------------
def points_gate(w2: float, floor: float, bar: dict) -> dict:
    """A 2-D model passes if its W2 to the data is within ``max_floor_ratio`` x the floor."""
    ratio = w2 / floor if np.isfinite(w2) and floor > 0 else np.nan
    ok = bool(np.isfinite(ratio) and ratio <= bar["max_floor_ratio"])
    return {"passed": ok, "bar": f"W2 to the data <= {bar['max_floor_ratio']:g} x floor",
            "numbers": {"w2_to_data": _f(w2), "floor": _f(floor), "ratio": _f(ratio)},
            "summary": f"W2 {_fmt(w2)} = {_fmt(ratio)} x floor {_fmt(floor)} "
                       f"(bar {bar['max_floor_ratio']:g})"}  # fmt: skip


def images_gate(fd: dict[str, float], gated: list[str], reference: list[str], bar: dict) -> dict:
    """Every ``gated`` model passes if its FD is within ``max_best_ratio`` x the best FD among
    ``reference`` (the paper's baselines measured here)."""
    best = min((fd.get(b, np.nan) for b in reference if np.isfinite(fd.get(b, np.nan))),
               default=np.nan)  # fmt: skip
    ratios = {m: fd.get(m, np.nan) / best for m in gated}
    failed = [m for m, r in ratios.items() if not (np.isfinite(r) and r <= bar["max_best_ratio"])]
    text = ", ".join(f"{m} {_fmt(fd.get(m, np.nan))} ({_fmt(r)} x best)" for m, r in ratios.items())
    return {"passed": not failed, "bar": f"FD <= {bar['max_best_ratio']:g} x the best baseline's",
            "numbers": {m: _f(fd.get(m, np.nan)) for m in gated},
            "summary": f"FD at eps 0: {text}; best baseline {_fmt(best)}"}  # fmt: skip


def accuracy_gate(acc: dict[str, float], bar: dict) -> dict:
    """Every attacked model passes if its clean conditional accuracy is >= the bar."""
    failed = [m for m, a in acc.items() if not (np.isfinite(a) and a >= bar["min_clean_accuracy"])]
    text = ", ".join(f"{m} {_fmt(a)}" for m, a in acc.items())
    return {"passed": not failed,
            "bar": f"clean conditional accuracy >= {bar['min_clean_accuracy']:g}",
            "numbers": {m: _f(a) for m, a in acc.items()},
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
        "numbers": {"in_support": _f(in_support)},
        "summary": f"in support {_fmt(in_support)} (bar {bar['min_in_support']:g})",
    }
    if "max_floor_ratio" not in bar:
        return gate
    ratio = w2 / floor if np.isfinite(w2) and floor > 0 else np.nan
    near = bool(np.isfinite(ratio) and ratio <= bar["max_floor_ratio"])
    return {"passed": inside and near,
            "bar": f"{gate['bar']} and W2 <= {bar['max_floor_ratio']:g} x floor",
            "numbers": {**gate["numbers"], "w2_to_data": _f(w2), "floor": _f(floor),
                        "ratio": _f(ratio)},
            "summary": f"{gate['summary']}; W2 {_fmt(w2)} = {_fmt(ratio)} x floor {_fmt(floor)} "
                       f"(bar {bar['max_floor_ratio']:g})"}  # fmt: skip


# --- measurements -----------------------------------------------------------------------------
DDIM = "ddim"  # in a claim: DDIM sampling of the DDPM model (the paper's DDIM baseline)
PAPER_BASELINES = ("ddpm", DDIM, "edm", "flow_matching")  # the paper's Table 1 baselines


def _seed_values(cubes: dict, metric: str, dataset: str, method: str) -> np.ndarray:
    """Per-seed values of an unperturbed image metric (last N), from the first sweep having it;
    ``method`` "ddim" is the DDPM model under the DDIM sampler, every other method is read off
    its non-DDIM sampler."""
    model, ddim = ("ddpm", True) if method == DDIM else (method, False)
    for cube in cubes.values():
        if metric not in cube or "eps" in cube.dims or dataset not in cube["dataset"].values:
            continue
        samplers = [s for s in cube["sampler"].values if (s == DDIM) == ddim]
        if model not in cube["method"].values or not samplers:
            continue
        da = cube[metric].sel({"dataset": dataset, "method": model, "sampler": samplers[0]})
        da = da.isel(steps=-1)
        v = da.values.reshape(da.sizes["seed"], -1)[:, 0]
        if np.isfinite(v).any():
            return v[np.isfinite(v)]
    return np.array([])


def improvement(m: dict, ctx) -> list[Condition]:
    """% better than the baseline, over seeds: a level comparison, gated on the baseline (and
    the ``control`` where one is named: Algorithm 1's loop without its value correction) having
    learned the data, against the best of the paper's baselines here. A method that failed to
    learn is not gated: it loses. With a control, the control's own comparison and the method
    against its control (the correction's effect) are context rows."""
    a = _seed_values(ctx.cubes, m["metric"], m["dataset"], m["method"])
    b = _seed_values(ctx.cubes, m["metric"], m["dataset"], m["baseline"])
    label = f"{m['dataset']}: {m['method']} vs {m['baseline']}"
    if not len(a) or not len(b):
        return [Condition(label, np.nan, reason=f"no {m['metric']} of {m['method']} and "
                          f"{m['baseline']} on {m['dataset']} here")]  # fmt: skip
    out = [_improvement(label, m, a, b, ctx, m["method"], m["baseline"])]
    control = m.get("control")
    gate_metric = "fd_digits" if m["dataset"] == "digits" else "fid"
    fd = {k: _seed_values(ctx.cubes, gate_metric, m["dataset"], k)
          for k in {*PAPER_BASELINES, m["baseline"], *([control] if control else [])}}  # fmt: skip
    fd = {k: float(v.mean()) for k, v in fd.items() if len(v)}
    if "images" in ctx.settings.fidelity and fd:
        out[0].fidelity = images_gate(fd, [m["baseline"], *([control] if control else [])],
                                      [b for b in PAPER_BASELINES if b in fd],
                                      ctx.settings.fidelity["images"])  # fmt: skip
    c = _seed_values(ctx.cubes, m["metric"], m["dataset"], control) if control else []
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


def percent_better(a, b, higher_is_better: bool = False, level: float = 0.95):
    """(point, lo, hi, what): the % by which the per-seed values ``a`` beat ``b`` (lower is
    better unless ``higher_is_better``), 100 (1 - r) or 100 (r - 1) with r = mean(a) / mean(b),
    its interval the Welch-Satterthwaite interval of log r (``mfgstudy.rates.welch_interval``,
    valid from two seeds per arm) mapped through the same monotone function."""
    r, r_lo, r_hi, what = welch_interval(a, b, "log_ratio", level)
    if higher_is_better:
        return 100.0 * (r - 1.0), 100.0 * (r_lo - 1.0), 100.0 * (r_hi - 1.0), what
    return 100.0 * (1.0 - r), 100.0 * (1.0 - r_hi), 100.0 * (1.0 - r_lo), what


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


def _regime(r) -> dict | None:
    if not np.isfinite(r.tail_slope):
        return None  # no tail: the condition says why in its reason
    test = getattr(r, "regime_test", "")
    return {"passed": r.regime == "passed", "tail": r.tail, "local_slopes": r.local_slopes,
            "fit_all": _f(r.fit_all), "grid": _grid_text(r),
            "test": test if isinstance(test, str) else ""}  # fmt: skip


_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:e[-+]?\d+)?")


def _grid_text(r) -> str:
    """The grid a rate's local slopes span ("0.001-0.002: +0.50; ..." -> "0.001 to 0.1")."""
    pairs = [p.split(": ")[0] for p in str(r.local_slopes).split("; ") if p]
    ends = [float(v) for p in pairs for v in _NUMBER.findall(p)]
    if not ends:
        return "the grid run"
    return f"{min(ends):g} to {max(ends):g}"


def n_slope(m: dict, ctx) -> list[Condition]:
    """One condition per (sampler, grid, estimator) row of the rate table for this law; the
    estimators of one (sampler, grid) form a group. ``estimators``: {name: bound} with bound
    exact, estimate, upper or lower; an ``estimate`` is context (it decides no bound claim).
    ``samplers``: only these samplers' rows (default: every one)."""
    df = ctx.slopes
    if df.empty:
        return [Condition(m["sweep"], np.nan, reason=f"no {m['sweep']} rates at this scale")]
    bounds = m["estimators"]
    sel = df[(df["sweep"] == m["sweep"]) & df["estimator"].isin(list(bounds))]
    if "samplers" in m:
        sel = sel[sel["sampler"].isin(m["samplers"])]
    out = []
    for r in sel.itertuples():
        n = "exact" if "exact" in str(r.ci_over) else int(r.n_seeds)
        bound = bounds[r.estimator]
        out.append(Condition(
            f"{r.dataset}/{r.sampler}/{r.grid}: {r.estimator} ({bound})", r.tail_slope, r.ci_low,
            r.ci_high, str(r.ci_over) if isinstance(r.ci_over, str) else "", n,
            f"{r.estimator} W2, N {r.tail} (tail); all N: {_fmt(r.fit_all)}; floor "
            f"{_fmt(r.floor)}",
            role=CONTEXT if bound == "estimate" else JUDGED, regime=_regime(r),
            upper_bound=bound == "upper", lower_bound=bound == "lower",
            estimate=bound == "estimate", group=f"{r.dataset}/{r.sampler}/{r.grid}", ran=True,
            reason=str(r.note) if isinstance(r.note, str) else ""))  # fmt: skip
    return out or [Condition(m["sweep"], np.nan, reason=f"no {m['sweep']} rates at this scale")]


def eps_exponent(m: dict, ctx) -> list[Condition]:
    """The exponent towards eps -> 0 of a score perturbation at sampling time (eq. 32). Judged:
    the exact score (the idealised equilibrium) of each law, one group of bounds per (law,
    perturbation); the law-level estimate is context (no bias bound: above the coupled upper
    bound it is biased upward); context too: the trained models of the robustness sweeps, behind
    the points fidelity gate."""
    out = []
    exact = ctx.exact
    if not exact.empty:
        sel = exact[exact["perturbation"].isin(m["perturbations"])]
        for r in sel.itertuples():
            estimate = r.bound == "estimate"
            above = getattr(r, "above_upper_bound", np.nan)
            why = r.note if isinstance(r.note, str) else ""
            if estimate and np.isfinite(above) and above > 0:
                why = (f"above the coupled upper bound at {above:.0%} of the fitted eps: biased "
                       f"upward; {why}")  # fmt: skip
            out.append(Condition(
                f"exact score, {r.law} modes/{r.perturbation}: {r.estimator} ({r.bound})",
                r.tail_slope, r.ci_low, r.ci_high,
                r.ci_over if isinstance(r.ci_over, str) else "", int(r.n_seeds),
                f"W2 to the unperturbed run, eps {r.tail} (tail of {r.eps_fitted}); all eps: "
                f"{_fmt(r.fit_all)}; EM N = {r.steps}, {r.n_samples} samples per seed; response "
                f"change N -> 2N: median {_fmt(r.check_median_rel_change_2n)}, max "
                f"{_fmt(r.check_max_rel_change_2n)}"
                + (f"; excluded: {r.excluded}" if isinstance(r.excluded, str) and r.excluded
                   else ""),
                role=CONTEXT if estimate else JUDGED, regime=_regime(r),
                upper_bound=r.bound == "upper", lower_bound=r.bound == "lower", estimate=estimate,
                group=f"{r.law}/{r.perturbation}", ran=True, reason=why))  # fmt: skip
    df = ctx.exponents
    bar = ctx.settings.fidelity.get("points")
    if not df.empty:
        sel = df[(df["estimator"] == "coupled") & df["perturbation"].isin(m["perturbations"])
                 & ~df["method"].isin(m["judged_methods"])]  # fmt: skip
        for r in sel.itertuples():
            gate = None if bar is None else points_gate(r.clean_w2_to_data, r.w2_floor, bar)
            out.append(Condition(
                f"{r.dataset}/{r.method}/{r.perturbation}: coupled (upper)", r.tail_slope,
                r.ci_low, r.ci_high, r.ci_over if isinstance(r.ci_over, str) else "",
                int(r.n_seeds),
                f"coupled W2 to the clean run, eps {r.tail} (tail of {r.eps_fitted}); "
                f"all eps: {_fmt(r.fit_all)}; clean W2 to data {_fmt(r.clean_w2_to_data)} "
                f"(floor {_fmt(r.w2_floor)})",
                role=CONTEXT, regime=_regime(r), fidelity=gate, upper_bound=True, ran=True,
                reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out or [Condition("eps sweep", np.nan, reason="no perturbation study at this scale")]


def _per_eps_ratios(ctx, method: str, perturbation: str) -> np.ndarray:
    """Per-seed mean over 0 < eps <= eps_fit_max of W2(perturbed, clean, coupled) / eps."""
    for cube in ctx.cubes.values():
        if "eps" not in cube.dims or "w2_to_clean_coupled" not in cube:
            continue
        if method not in cube["method"].values or perturbation not in cube["perturbation"]:
            continue
        da = cube["w2_to_clean_coupled"].sel({"method": method, "perturbation": perturbation})
        da = da.isel(steps=-1)
        da = da.squeeze([d for d in da.dims if d not in ("seed", "eps")], drop=True)
        da = da.sel(eps=(da["eps"] > 0) & (da["eps"] <= ctx.eps_fit_max))
        r = (da / da["eps"]).mean("eps").values
        return r[np.isfinite(r)]
    return np.array([])


def _clean_fidelity(ctx, method: str) -> tuple[float, float]:
    df = ctx.exponents
    if df.empty:
        return np.nan, np.nan
    row = df[df["method"] == method]
    return (float(row["clean_w2_to_data"].iloc[0]), float(row["w2_floor"].iloc[0])) if len(
        row) else (np.nan, np.nan)  # fmt: skip


def ratio_to_best(a, bs: list, level: float = 0.95) -> tuple[float, float, float, str]:
    """mean(a) / min_j mean(b_j) over per-seed values, with a simultaneous interval: the ratio to
    the best baseline is the largest of the ratios r_j = mean(a) / mean(b_j), so its interval is
    [max lo_j, max hi_j] over Welch intervals of log r_j at level 1 - (1 - level) / J
    (Bonferroni over the J baselines)."""
    per = [welch_interval(a, b, "log_ratio", 1.0 - (1.0 - level) / len(bs)) for b in bs]
    point = float(np.mean(a) / min(np.mean(b) for b in bs))
    lo, hi = max(p[1] for p in per), max(p[2] for p in per)
    what = "; ".join(p[3] for p in per) + (f" (Bonferroni over {len(bs)})" if len(bs) > 1 else "")
    return point, lo, hi, what


def k_ratio(m: dict, ctx) -> list[Condition]:
    label = f"K({m['method']}) / min K({', '.join(m['baselines'])}), {m['perturbation']}"
    a = _per_eps_ratios(ctx, m["method"], m["perturbation"])
    bs = [_per_eps_ratios(ctx, b, m["perturbation"]) for b in m["baselines"]]
    if not len(a) or any(not len(b) for b in bs):
        return [Condition(label, np.nan, reason="no robustness sweep with these methods")]

    point, lo, hi, over = ratio_to_best(a, bs)
    bar = ctx.settings.fidelity["points"]
    gates = {
        mm: points_gate(*_clean_fidelity(ctx, mm), bar) for mm in [m["method"], *m["baselines"]]
    }
    gate = {"passed": all(g["passed"] for g in gates.values()), "bar": bar and
            gates[m["method"]]["bar"], "numbers": {k: g["numbers"] for k, g in gates.items()},
            "summary": "; ".join(f"{k}: {g['summary']}" for k, g in gates.items())}  # fmt: skip
    scale = (f"K = mean of W2/eps over 0 < eps <= {ctx.eps_fit_max:g}: {m['method']} "
             f"{a.mean():.3g}, " + ", ".join(f"{b} {v.mean():.3g}" for b, v in
                                             zip(m["baselines"], bs, strict=True)))  # fmt: skip
    return [Condition(label, point, lo, hi, over, min(len(a), *map(len, bs)), scale,
                      fidelity=gate)]  # fmt: skip


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


def proposition6_exact(ctx) -> list[Condition]:
    """Proposition 6 on its exact case (the proposition6 table: Algorithm 1 without a network
    under the reading with an equilibrium): one judged condition per step size alpha_0 whose
    iteration stays finite; a run that diverges is context, its iteration named."""
    out = []
    for r in ctx.proposition6.itertuples():
        label = (
            f"exact case, {r.method}: alpha_k = alpha_0 / k, alpha_0 = {r.alpha} "
            f"(alpha_0 mu_min {r.alpha0_mu_min:.2g}, alpha_0 mu_max {r.alpha0_mu_max:.2g})"
        )
        if r.diverged_at:
            out.append(Condition(label, np.nan, role=CONTEXT, ran=True,
                                 reason=f"the iteration diverges at k = {int(r.diverged_at)}: "
                                        "no rate"))  # fmt: skip
            continue
        out.append(Condition(
            label, r.tail_slope, r.ci_low, r.ci_high, r.ci_over, "exact",
            f"violation (HJB + terminal + FP residuals, exact) against K, K {r.tail} (tail); "
            f"{_fmt(r.violation_first)} at K = 1, {_fmt(r.violation_last)} at K = {r.K_max}; "
            f"all K: {_fmt(r.fit_all)}",
            regime=_regime(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out


def _value_target(ctx, method: str) -> str:
    return ctx.mfg_readings.get(method, {}).get("value_target", "")


def _dsm_floors(ctx, var: str) -> dict:
    """Per (data set, lr schedule): the control's (value_target off: Algorithm 1 is denoising
    score matching, the same network and budget) last value of ``var``, mean over seeds: below
    it a residual measures the network's capacity, not the algorithm."""
    floors = {}
    for (dataset, method), logs in ctx.train_logs.items():
        if _value_target(ctx, method) != "off" or var not in logs[0]:
            continue
        schedule = logs[0].attrs.get("reading_lr_schedule", "?")
        floors[(dataset, schedule)] = float(np.mean([lg[var].values[-1] for lg in logs]))
    return floors


def violation_slope(m: dict, ctx) -> list[Condition]:
    """Proposition 6 only under its hypothesis: Algorithm 1 runs with step sizes O(1/k). Judged:
    the exact case (``proposition6_exact``), where the violation is computed without a network
    over thousands of iterations. Context: the network runs, one condition per (data set,
    reading, violation metric), read at the doublings K = 1, 2, 4, 8, ... (between consecutive K
    the local slope is noise); each metric's standard error is its floor, and so is the value the
    control (V = 0: denoising score matching, the same network and budget) reaches, below which
    a residual says nothing about the algorithm. Without an exact case the network runs'
    residuals are judged."""
    exact = proposition6_exact(ctx)
    out = list(exact)
    network_role = CONTEXT if any(c.role == JUDGED for c in exact) else JUDGED
    for (dataset, method), logs in ctx.train_logs.items():
        schedule = logs[0].attrs.get("reading_lr_schedule", "?")
        if schedule not in m["lr_schedules"]:
            continue  # outside the proposition's hypothesis: not a condition of this claim
        k_all = logs[0]["outer_iter"].values.astype(float)
        pick = np.isin(k_all, 2.0 ** np.arange(20))  # doublings: local slopes of K, 2K
        k = k_all[pick]
        for role, variables in ((network_role, m["variables"]), (CONTEXT, m.get("context", []))):
            for var in variables:
                if var not in logs[0]:
                    why = f"{var} not logged (no closed-form law)"
                    out.append(Condition(f"{dataset}/{method}: {var}", np.nan, role=role,
                                         reason=why))  # fmt: skip
                    continue
                curves = np.array([lg[var].values[pick] for lg in logs])
                se_var = var.removesuffix("_rms") + "_se"
                floor = (
                    np.mean([lg[se_var].values[pick] for lg in logs], 0)
                    if se_var in logs[0]
                    else None
                )
                dsm = _dsm_floors(ctx, var).get((dataset, schedule))
                if _value_target(ctx, method) == "off":
                    dsm = None  # the control is the floor itself
                if dsm is not None:
                    floor = np.maximum(floor if floor is not None else 0.0, dsm)
                rate = fit_rate(k, curves, RateSpec.from_dict(ctx.rates), resampling="seeds",
                                floor=floor)  # fmt: skip
                r = SimpleNamespace(**rate_columns(rate))
                regime = _regime(r)
                if regime is not None:
                    regime["grid"] = f"K = 1 to {int(k.max())}"
                last = float(curves[:, -1].mean())
                floor_txt = f", floor (se) {_fmt(floor[-1])}" if floor is not None else ""
                if dsm is not None:
                    floor_txt += f"; the control's (denoising score matching) {_fmt(dsm)}"
                out.append(Condition(
                    f"{dataset}/{method} (lr {schedule}): {var}", rate.slope, rate.ci_low,
                    rate.ci_high, r.ci_over, len(logs),
                    f"{var} against K, K {r.tail} (tail); at K = {int(k.max())}: "
                    f"{_fmt(last)}{floor_txt}; all K: {_fmt(rate.fit_all)}",
                    role=role, regime=regime, ran=True, reason=rate.note))  # fmt: skip
    return out or [Condition("Algorithm 1 with lr O(1/k)", np.nan,
                             reason="no Algorithm 1 run with step sizes O(1/k)")]  # fmt: skip


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


# --- the companion papers' studies (config report.studies) ------------------------------------
def _study_cube(ctx, study: str):
    """The metrics cube of a companion study's sweep, or None where the study is not run."""
    sweep = ctx.studies.get(study, {}).get("sweep")
    return ctx.cubes.get(sweep) if sweep else None


def _seed_values_of(cube, metric: str, method: str, **where) -> np.ndarray:
    """Per-seed values of ``metric`` for ``method`` at the last N (the first value of every
    other dim not named in ``where``), non-finite ones included."""
    if cube is None or metric not in cube or method not in cube["method"].values:
        return np.array([])
    da = cube[metric].sel({"method": method, **where}).isel(steps=-1)
    for d in [d for d in da.dims if d != "seed"]:
        da = da.isel({d: 0})
    return np.asarray(da.values, float).ravel()


def _per_seed(cube, metric: str, method: str, **where) -> np.ndarray:
    """:func:`_seed_values_of`, finite values only."""
    v = _seed_values_of(cube, metric, method, **where)
    return v[np.isfinite(v)]


def _diverged(cube, methods) -> dict | None:
    """A failed gate where a compared model's sampler gave non-finite samples on some seed (a
    diverged model has no law to compare; its metrics read infinite), naming the share per
    seed; None where every sample of every seed is finite."""
    shares = {m: _seed_values_of(cube, "nonfinite_fraction", m) for m in methods}
    bad = {m: v for m, v in shares.items() if np.any(v[np.isfinite(v)] > 0)}
    if not bad:
        return None
    text = "; ".join(f"{m}: non-finite samples on {int(np.sum(v > 0))} of {len(v)} seeds ("
                     + ", ".join(f"{100 * x:.0f} %" for x in v) + ")"
                     for m, v in bad.items())  # fmt: skip
    return {
        "passed": False,
        "bar": "every sample finite",
        "numbers": {m: [_f(x) for x in v] for m, v in bad.items()},
        "summary": f"{text}: a model whose sampler diverges has no law to compare",
    }


def _study_gate(ctx, cube, method: str) -> dict:
    """The checkerboard gate (bars: the claims file's ``fidelity.checkerboard``) on ``method``'s
    seed means: share in the support and W2 to the data against the floor."""
    w2 = _per_seed(cube, "w2_uncoupled", method)
    inside = _per_seed(cube, "in_support", method)
    floor = (float(np.asarray(cube["w2_floor_mean"].values, float).ravel()[0])
             if "w2_floor_mean" in cube else np.nan)  # fmt: skip
    gate = support_gate(w2.mean() if len(w2) else np.nan, floor,
                        inside.mean() if len(inside) else np.nan,
                        ctx.settings.fidelity["checkerboard"])  # fmt: skip
    gate["summary"] = f"{method}: {gate['summary']}"
    return gate


def variant_comparison(m: dict, ctx) -> list[Condition]:
    """HJB-regularised SGM variants against a baseline variant (MFG laboratory, section 7): per
    comparison, the % by which the variant is better (``better``: lower or higher ``metric``),
    over seeds; every row behind the gate of the study's plain model (``gate``)."""
    cube = _study_cube(ctx, m["study"])
    out = []
    for c in m["comparisons"]:
        label = f"{c['metric']}: {c['method']} vs {c['baseline']} ({c['better']} is better)"
        role = c.get("role", JUDGED)
        a = _per_seed(cube, c["metric"], c["method"])
        b = _per_seed(cube, c["metric"], c["baseline"])
        diverged = _diverged(cube, (c["method"], c["baseline"]))
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
                             fidelity=_study_gate(ctx, cube, m["gate"])))  # fmt: skip
    return out


def variant_value(m: dict, ctx) -> list[Condition]:
    """One statistic of HJB-regularised SGM variants (e.g. the edge-band mass relative to the
    law's own), mean over seeds with its interval; ``methods`` judged, ``context`` beneath."""
    cube = _study_cube(ctx, m["study"])
    out = []
    for role, methods in ((JUDGED, m["methods"]), (CONTEXT, m.get("context", []))):
        for method in methods:
            v = _per_seed(cube, m["metric"], method)
            diverged = _diverged(cube, (method,))
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
                fidelity=_study_gate(ctx, cube, m["gate"])))  # fmt: skip
    return out


def cost_perturbation(m: dict, ctx) -> list[Condition]:
    """Theorem 4 on its own statement: the exponent of sup_t W2 between the equilibrium of the
    perturbed cost L + delta and the unperturbed one, per family of ``families``, for the reading
    ``method`` (the perturbed-cost table: exact computations, the interval is the point)."""
    df, method = ctx.cost_perturbation, m["method"]
    label = f"{method}: perturbed-cost equilibrium"
    if df.empty:
        return [Condition(label, np.nan, reason="no perturbed-cost study at this scale")]
    rows = df[(df["method"] == method) & df["family"].isin(m["families"])]
    if rows.empty:
        return [Condition(label, np.nan, reason=f"{method} not computed: add it to "
                          "cost_perturbation.methods")]  # fmt: skip
    out = []
    for row in rows.to_dict("records"):  # "lambda" is a column: dicts, not namedtuples
        r = SimpleNamespace(**row)
        text = f"{method} ({r.value_target}, {r.weighting}, lambda {row['lambda']:g}): {r.family}"
        if not np.isfinite(row.get("exponent", np.nan)):
            why = r.note if isinstance(r.note, str) else "no value"
            if not r.exists:
                why += f" (blow-up at t = {r.t_blowup:.4g}): Theorem 4 has no object here"
            out.append(Condition(text, np.nan, reason=why))
            continue
        out.append(Condition(
            text, r.exponent, r.ci_low, r.ci_high, r.ci_over, "exact",
            f"sup_t W2 of the perturbed equilibrium's law to the unperturbed one, eps {r.tail} "
            f"(tail of {r.eps_fitted}); all eps: {_fmt(r.fit_all)}; W2 / eps at the smallest eps "
            f"{_fmt(r.w2_over_eps_smallest)}; refinement change up to "
            f"{_fmt(r.check_max_rel_change)}",
            regime=_regime(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out


def dirac_law(m: dict, ctx) -> list[Condition]:
    """Theorem 2 of the PDE paper on a Dirac law: the closed-form W2 of each N-step sampler's law
    to the law (4.12) (the dirac table). ``statistic``: ``max`` (the largest W2 over N: a scheme
    claimed exact) or ``slope`` (the rate in N, ``mfgstudy.rates``: the N-step laws converge to
    it). Closed forms: the interval is the point."""
    df = ctx.dirac
    if df.empty:
        return [Condition("Dirac law", np.nan, reason="no Dirac study at this scale")]
    out = []
    for (method, sampler, grid), g in df[df["sampler"].isin(m["samplers"])].groupby(
        ["method", "sampler", "grid"]
    ):
        g = g.sort_values("steps")
        n, w2 = g["steps"].to_numpy(float), g["w2_to_theorem2"].to_numpy(float)
        label = f"{method}/{sampler}/{grid}"
        values = ", ".join(f"N={int(k)}: {_fmt(v)}" for k, v in zip(n, w2, strict=True))
        if m["statistic"] == "max":
            worst = float(np.max(w2))
            out.append(Condition(f"{label}: max over N of W2 to (4.12)", worst, worst, worst,
                                 "exact (closed form, no sampling)", "exact",
                                 f"closed-form W2 of the N-step law to (4.12): {values}",
                                 ran=True))  # fmt: skip
            continue
        rate = fit_rate(n, w2, RateSpec.from_dict(ctx.rates), resampling="exact")
        r = SimpleNamespace(**rate_columns(rate))
        out.append(Condition(
            f"{label}: W2 to (4.12) against N", rate.slope, rate.ci_low, rate.ci_high,
            r.ci_over, "exact", f"closed-form W2, N {r.tail} (tail); all N: "
            f"{_fmt(rate.fit_all)}; {values}",
            regime=_regime(r), ran=True, reason=rate.note))  # fmt: skip
    return out or [Condition("Dirac law", np.nan, reason=f"no sampler of {m['samplers']} run")]


def pooled_share(shares, n_samples: int, level: float = 0.95) -> tuple[float, float, float, str]:
    """A share counted within runs whose only randomness is Monte Carlo (the exact empirical
    score: no training), pooled over the runs (seeds): k of n samples, with the Clopper-Pearson
    interval of ``mfgstudy.rates.binomial_interval``."""
    shares = np.asarray(shares, float)
    counts = shares * n_samples
    if not np.allclose(counts, np.round(counts), atol=1e-6):
        raise ValueError(f"shares {shares} are not counts out of n_samples = {n_samples}")
    point, lo, hi, what = binomial_interval(int(np.round(counts).sum()), n_samples * len(shares))
    runs = f" ({len(shares)} run(s) pooled)" if len(shares) > 1 else ""
    return point, lo, hi, what + runs


def excess_ratio(a, b, chance: float, n_samples: int, level: float = 0.95):
    """(point, lo, hi, what): (mean(a) - chance) / (mean(b) - chance) for a trained network's
    per-seed shares ``a`` against the exact empirical score's ``b`` (Monte Carlo only), with a
    Bonferroni pair of intervals: a t interval over the network's seeds and the pooled
    Clopper-Pearson interval of b, each at level 1 - (1 - level) / 2. The fresh draws' share
    ``chance`` is subtracted from both (the ratio is below 1 exactly when mean(a) < mean(b))."""
    half = 1.0 - (1.0 - level) / 2
    _, a_lo, a_hi, a_what = welch_interval(a, level=half)
    _, b_lo, b_hi, b_what = pooled_share(b, n_samples, half)
    point = (float(np.mean(a)) - chance) / (float(np.mean(b)) - chance)
    if not (np.isfinite(a_lo) and b_lo > chance):
        return point, np.nan, np.nan, f"{a_what}; {b_what}"
    lo, hi = (a_lo - chance) / (b_hi - chance), (a_hi - chance) / (b_lo - chance)
    return point, lo, hi, f"{a_what}; {b_what}; Bonferroni over the two"


def memorisation(m: dict, ctx) -> list[Condition]:
    """PDE paper section 4.5: per training-set size M and statistic (the share of samples within
    delta of a training point, as drawn and after one Tweedie step), ``method``'s share at the
    smallest stopping time (the claim is about t -> 0; the larger stopping times are quoted in
    the row), beside the same statistic for fresh draws of the law stopped there. With a
    ``baseline``, the share of each beyond chance (its excess over the fresh draws') and the ratio
    of the method's excess to the baseline's: a network that reproduces its training points as
    the exact empirical score does scores 1, one that generalises 0. That comparison is a novelty
    claim: the method itself is gated (``fidelity.memorisation``: its samples lie in the law's
    support), since a network that learned nothing memorises nothing. The statistics of one M
    form a group (estimators of one condition)."""
    cube = _study_cube(ctx, m["study"])
    if cube is None:
        return [Condition(m["method"], np.nan, reason="no memorisation study at this scale")]
    spec = ctx.studies[m["study"]]
    t_stop = {g: float(t) for g, t in spec["t_stop"].items()}
    grids = sorted(t_stop, key=t_stop.get)
    b_name = m.get("baseline")
    bar = ctx.settings.fidelity.get("memorisation") if b_name else None
    out = []
    for dataset in cube["dataset"].values:
        n_train = spec["n_train"].get(str(dataset), "?")
        gate = None
        if bar is not None:
            inside = _per_seed(cube, "in_support", m["method"], dataset=dataset, grid=grids[0])
            gate = support_gate(np.nan, np.nan, inside.mean() if len(inside) else np.nan, bar)
            gate["summary"] = f"{m['method']}: {gate['summary']}"
        for stat, fresh in m["statistics"].items():
            label = f"M = {n_train}, t_stop = {t_stop[grids[0]]:g}: {stat}"
            vals = {g: _per_seed(cube, stat, m["method"], dataset=dataset, grid=g) for g in grids}
            a = vals[grids[0]]
            b = _per_seed(cube, stat, b_name, dataset=dataset, grid=grids[0]) if b_name else None
            f = _per_seed(cube, fresh, m["method"], dataset=dataset, grid=grids[0])
            if not len(a) or (b is not None and not (len(b) and len(f))):
                out.append(Condition(label, np.nan, group=f"M{n_train}",
                                     reason=f"no {stat} in the metrics cube"))  # fmt: skip
                continue
            fresh_txt = f"fresh draws {_fmt(f.mean())} ({fresh})" if len(f) else "no fresh draws"
            later = ", ".join(f"{t_stop[g]:g}: {_fmt(vals[g].mean())}" for g in grids[1:]
                              if len(vals[g]))  # fmt: skip
            if b is None:
                point, lo, hi, over = pooled_share(a, int(spec["n_samples"]))
                scale = f"{m['method']} {_fmt(a.mean())}; {fresh_txt}"
                n = len(a)
            else:
                chance = float(f.mean())
                point, lo, hi, over = excess_ratio(a, b, chance, int(spec["n_samples"]))
                scale = (f"excess over fresh draws: {m['method']} {_fmt(a.mean() - chance)}, "
                         f"{b_name} {_fmt(b.mean() - chance)} (shares {_fmt(a.mean())}, "
                         f"{_fmt(b.mean())}; {fresh_txt})")  # fmt: skip
                n = min(len(a), len(b))
            scale += f"; delta {spec['delta']:g}, mean over {n} seed(s)"
            scale += f"; {m['method']} at larger t_stop: {later}" if later else ""
            out.append(Condition(label, point, lo, hi, over, n, scale, group=f"M{n_train}",
                                 fidelity=gate))  # fmt: skip
    return out


# what each concentration statistic measures the distance to (the concentration table's support)
SUPPORTS = {
    "support_distance_mean": "the law's support (the black cells: full dimension)",
    "train_distance_mean": "the training points (dimension 0: where the sqrt(t) rate is sharp)",
}


def concentration_exponent(m: dict, ctx) -> list[Condition]:
    """The exponent of the mean distance to the data support in the stopping time t -> 0, per
    method (the concentration table: ``mfgstudy.rates`` tail slope, regime, interval over
    seeds)."""
    df = ctx.concentration
    if df.empty:
        return [Condition("concentration", np.nan, reason="no concentration study at this scale")]
    out = []
    for r in df.itertuples():
        ci_over = r.ci_over if isinstance(r.ci_over, str) else ""
        support = SUPPORTS.get(r.support, r.support)
        out.append(Condition(
            f"{r.method}: distance to {support}", r.tail_slope, r.ci_low,
            r.ci_high, ci_over, int(r.n_seeds),
            f"mean distance against t_stop, t {r.tail} (tail); all t: {_fmt(r.fit_all)}",
            regime=_regime(r), ran=True,
            reason=r.note if isinstance(r.note, str) else ""))  # fmt: skip
    return out


MEASURES = {
    "improvement": improvement,
    "n_slope": n_slope,
    "eps_exponent": eps_exponent,
    "k_ratio": k_ratio,
    "lowest_everywhere": lowest_everywhere,
    "degradation_ratio": degradation_ratio,
    "violation_slope": violation_slope,
    "injection_reduction": injection_reduction,
    "variant_comparison": variant_comparison,
    "variant_value": variant_value,
    "dirac_law": dirac_law,
    "memorisation": memorisation,
    "concentration_exponent": concentration_exponent,
    "cost_perturbation": cost_perturbation,
}


# The tables and figures (by file stem, as ``mfgstudy.plan.paths`` names them) that show what
# each kind of measurement reads: the HTML report links a claim's line to them. A measurement
# read from the training logs alone (violation_slope) rests on its own conditions table.
EVIDENCE = {
    "improvement": ("table1_images",),
    "n_slope": ("w2_slopes", "fig1_w2_vs_N"),
    "eps_exponent": ("robustness_exact_exponents", "fig_robustness_exact",
                     "robustness_eps_exponents", "fig_robustness_eps"),
    "k_ratio": ("robustness_eps_exponents", "fig_robustness_eps"),
    "lowest_everywhere": ("robustness_eps_exponents", "fig_robustness_eps"),
    "degradation_ratio": ("table2_perturbed_images",),
    "violation_slope": (),
    "injection_reduction": ("fig_injection_analog",),
    "variant_comparison": ("hjb_checkerboard", "fig_hjb_checkerboard"),
    "variant_value": ("hjb_checkerboard", "fig_hjb_checkerboard"),
    "dirac_law": ("dirac_theorem2",),
    "memorisation": ("memorisation",),
    "concentration_exponent": ("concentration", "fig_concentration"),
    "cost_perturbation": ("theorem4_cost_perturbation", "fig_theorem4_cost_perturbation"),
}  # fmt: skip
CONVERGENCE_EVIDENCE = ("theorem2_convergence", "fig1_w2_vs_N")  # Theorem 2's own sweeps


def evidence(measure: dict) -> list[str]:
    """The stems of the tables and figures a claim's measurement rests on."""
    if measure["kind"] == "n_slope" and str(measure.get("sweep", "")).startswith("convergence"):
        return list(CONVERGENCE_EVIDENCE)
    return list(EVIDENCE.get(measure["kind"], ()))


# --- which reading of Algorithm 1 is MFG-Diffusion ---------------------------------------------
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
            why = f"W2 to the data {_fmt(w2)} {'<=' if ok else '>'} {bar['max_w2_to_data']:g}"
        rows.append({"method": name, "qualifies": ok, "w2_to_data": _f(w2), "changed": changed,
                     "why": why})  # fmt: skip
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


def measure_conditions(c: dict, ctx) -> list[Condition]:
    """A claim's conditions. Where the claims file has a reading rule and the claim's measure
    names the printed reading (``method``), the measure runs on the chosen reading (judged) and
    on the printed one (context rows with their own verdicts)."""
    m, fn = c["measure"], MEASURES[c["measure"]["kind"]]
    reading = getattr(ctx, "reading", None)
    if reading is None or m.get("method") != reading.printed:
        return fn(m, ctx)
    out = fn({**m, "method": reading.chosen}, ctx)
    if reading.chosen != reading.printed:
        for k in fn(m, ctx):
            k.role, k.label = CONTEXT, f"printed reading: {k.label}"
            out.append(k)
    return out


def paper_table_note(c: dict) -> str:
    """Where a claim carries the numbers of the paper's own table (``paper_table``: method,
    baseline), the value they imply in the claim's unit beside the stated one: a paper that
    contradicts itself is shown, the stated claim is kept."""
    t = c.get("paper_table")
    if not t:
        return ""
    a, b = float(t["method"]), float(t["baseline"])
    higher = c["measure"].get("higher_is_better", False)
    implied = 100.0 * ((a - b) / b if higher else (b - a) / b)
    off = abs(implied - float(c["claimed"])) > 0.05 * max(1.0, abs(float(c["claimed"])))
    text = (f"the paper's table ({a:g} vs {b:g}) gives {implied:.3g}; its text states "
            f"{float(c['claimed']):g}")  # fmt: skip
    return text + (": the paper is inconsistent here (the stated claim is judged)" if off else "")


def decided_elsewhere(c: dict, ctx) -> str:
    """Where a companion study's claims are decided by another config (``report.studies.<study>
    .decided_by``: this study's models are a smoke test), the note that names it."""
    study = c["measure"].get("study")
    other = study and ctx.studies.get(study, {}).get("decided_by")
    if not other:
        return ""
    return (
        f"this study's models are a smoke test of the pipeline; the claim is decided by "
        f"`make study CONFIG={other}`, whose ledger judges it"
    )


class Context:
    """Everything the measurements read, loaded once."""

    def __init__(self, cube_path, slopes_csv, exponents_csv, table2_csv, train_logs, injection,
                 spec, settings: Settings, exact_csv: str | None = None,
                 dirac_csv: str | None = None,
                 concentration_csv: str | None = None, mfg_equilibrium_csv: str | None = None,
                 cost_perturbation_csv: str | None = None,
                 proposition6_csv: str | None = None):  # fmt: skip
        self.cubes = open_groups(cube_path)
        self.proposition6 = _read_csv(proposition6_csv) if proposition6_csv else pd.DataFrame()
        self.mfg_equilibrium = _read_csv(mfg_equilibrium_csv) if mfg_equilibrium_csv \
            else pd.DataFrame()  # fmt: skip
        self.cost_perturbation = _read_csv(cost_perturbation_csv) if cost_perturbation_csv \
            else pd.DataFrame()  # fmt: skip
        self.mfg_readings = mfg_readings(spec.get("mfg_methods", {}))
        self.reading: Reading | None = None  # the claims file's reading rule, applied
        self.dirac = _read_csv(dirac_csv) if dirac_csv else pd.DataFrame()
        self.concentration = _read_csv(concentration_csv) if concentration_csv else pd.DataFrame()
        self.studies = spec.get("studies", {})  # companion studies: {study: sweep, t_stop, ...}
        self.slopes = _read_csv(slopes_csv)
        self.exponents = _read_csv(exponents_csv)
        self.exact = _read_csv(exact_csv) if exact_csv else pd.DataFrame()
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
        self.eps_fit_max = spec.get("eps_fit_max", 0.1)
        self.rates = spec.get("rates", {})
        self.settings = settings  # the claims file's (set per file by ``claims_job``)


def _read_csv(path: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


RULES = ("improvement", "bound_slope", "bound_exponent", "ratio_below", "all_true", "at_most",
         "at_least", "qualitative")  # fmt: skip


class ClaimsFileError(UserError, ValueError):
    """A claims file that cannot be judged: the message names the file, the claim and the fix."""


def _check_claim(claims_file: str, k: int, c) -> None:
    where = f"{claims_file}: claims[{k}]"
    if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c["id"]:
        raise ClaimsFileError(f"{where}: every claim needs an `id:` (a name for the ledger)")
    where = f"{claims_file}: claim {c['id']!r}"
    rule = c.get("rule")
    if rule not in RULES:
        raise ClaimsFileError(f"{where}: rule {rule!r} is not a verdict rule (choose from "
                              f"{', '.join(RULES)})")  # fmt: skip
    if "claimed" not in c and rule != "qualitative":  # no direction: nothing to judge
        raise ClaimsFileError(f"{where} has no claimed value (only a `rule: qualitative` claim "
                              "may omit it)")  # fmt: skip
    if "claimed" in c and not (isinstance(c["claimed"], (int, float))
                               and np.isfinite(c["claimed"])):  # fmt: skip
        raise ClaimsFileError(f"{where}: claimed must be a finite number, got {c['claimed']!r}")
    measure = c.get("measure")
    kind = measure.get("kind") if isinstance(measure, dict) else None
    if kind not in MEASURES:
        raise ClaimsFileError(f"{where}: measure.kind {kind!r} is not a measurement (choose from "
                              f"{', '.join(sorted(MEASURES))})")  # fmt: skip


def check_claims_files(claims_files: list[str]) -> None:
    """Validate the claims files a study judges, before any job (the Snakefile calls this beside
    the config's checks): strict YAML (no key given twice), the top-level keys, each claim's id,
    rule, claimed value and measurement kind, and ids unique over all files, a repeated id named
    with the files that give it."""
    seen: dict[str, str] = {}
    for f in claims_files:
        spec = strict_yaml.load(f)
        if not isinstance(spec, dict):
            raise ClaimsFileError(f"{f}: a claims file is a mapping with `claims:` and "
                                  "`fidelity:`")  # fmt: skip
        for key in ("claims", "fidelity"):
            if key not in spec:
                raise ClaimsFileError(f"{f}: missing top-level key {key!r}")
        if not isinstance(spec["claims"], list):
            raise ClaimsFileError(f"{f}: `claims:` must be a list of claims")
        for k, c in enumerate(spec["claims"]):
            _check_claim(f, k, c)
            if c["id"] in seen:
                again = "twice in this file" if seen[c["id"]] == f else f"also in {seen[c['id']]}"
                raise ClaimsFileError(f"{f}: the claim id {c['id']!r} is given {again}: ids name "
                                      "ledger rows and report anchors, so each must be unique; "
                                      "rename one")  # fmt: skip
            seen[c["id"]] = f


def load_claims(claims_file: str, min_seeds: int = MIN_SEEDS) -> tuple[list[dict], Settings]:
    check_claims_files([claims_file])
    spec = strict_yaml.load(claims_file)
    settings = Settings(float(spec.get("tolerance", 0.0)), min_seeds, spec["fidelity"],
                        str(spec.get("paper", Path(claims_file).stem)),
                        spec.get("reading"))  # fmt: skip
    return spec["claims"], settings


def _rule_text(rule: str, tol: float) -> str:
    bounded = "bound" in rule or rule in ("at_most", "at_least")
    return rule + (f" (tolerance {tol:g})" if bounded else "")


def ledger(claims: list[dict], ctx: Context, study: str) -> list[dict]:
    rows = []
    for c in claims:
        tol = float(c.get("tolerance", ctx.settings.tolerance))
        conditions = measure_conditions(c, ctx)
        for cond in conditions:
            cond.verdict, cond.reason = judge(c["rule"], c.get("claimed", np.nan), cond, tol)
            cond.scale = f"study {study}: {cond.scale}" if cond.scale else f"study {study}"
        word, tally = summary_verdict(conditions)
        judged = [k for k in conditions if k.role == JUDGED]
        decided_by = deciding_condition(conditions, word)
        seeds = [k.n_seeds for k in judged if isinstance(k.n_seeds, int | np.integer)]
        rows.append({
            "id": c["id"], "paper": ctx.settings.paper, "source": c["source"],
            "statement": c["statement"], "claimed": c.get("claimed"), "unit": c["unit"],
            "rule": _rule_text(c["rule"], tol), "verdict": word, "reason": tally,
            "n_seeds": ("exact" if judged and not seeds else int(min(seeds)) if seeds else 0),
            "regime": [k.regime for k in judged if k.regime is not None] or None,
            "fidelity": [k.fidelity for k in conditions if k.fidelity is not None] or None,
            "evidence": evidence(c["measure"]),
            "gate": GATE_KINDS.get(c["measure"]["kind"], ""),
            "note": paper_table_note(c) or decided_elsewhere(c, ctx),
            "decided_by": decided_by,  # index into conditions (None: no judged condition)
            "conditions": conditions,
        })  # fmt: skip
    return rows


def headline(settings: Settings, rows: list[dict], reading: Reading | None = None) -> str:
    """One line built from a paper's verdicts, above its table: which of its claims hold, which
    do not, and which stay open here (and why), under the reading MFG-Diffusion is judged by."""
    by = {}
    for r in rows:
        by.setdefault(r["verdict"], []).append(r["id"])
    parts = [f"{word}: {', '.join(by[word])}" for word in
             (REPRODUCED, FAILS, INCONCLUSIVE, NOT_COMPARABLE, UNMEASURABLE, QUALITATIVE)
             if word in by]  # fmt: skip
    under = (f" MFG-Diffusion's comparative claims are judged under the reading "
             f"`{reading.chosen}` (printed: `{reading.printed}`).") if reading else ""  # fmt: skip
    decided = len(by.get(REPRODUCED, [])) + len(by.get(FAILS, []))
    return (f"**In short: {decided} of {len(rows)} claims decided here.** " + "; ".join(parts)
            + "." + under)  # fmt: skip


def as_json(rows: list[dict]) -> list[dict]:
    """The ledger's rows with their conditions as plain dicts (NaN as null)."""

    def plain(d: dict) -> dict:
        return {k: (_f(v) if isinstance(v, float | np.floating) else v) for k, v in d.items()}

    return [{**r, "conditions": [{"id": r["id"], **plain(asdict(k))} for k in r["conditions"]]}
            for r in rows]  # fmt: skip


REPO_ROOT = Path(__file__).resolve().parents[3]  # src/mfgstudy/report/claims.py -> the repository


def recorded_path(path: str) -> str:
    """A claims file as claims.json names it: relative to the repository when it lies in it
    (``workflow/claims/<name>.yaml``), else its absolute path."""
    p = Path(path).resolve()
    return p.relative_to(REPO_ROOT).as_posix() if p.is_relative_to(REPO_ROOT) else str(p)


def claims_job(spec: dict, claims_files: list[str], cube_path: str, slopes_csv: str,
               exponents_csv: str, table2_csv: str, md: str, json_out: str,
               train_logs=(), injection=(), exact_csv: str | None = None,
               dirac_csv: str | None = None, concentration_csv: str | None = None,
               mfg_equilibrium_csv: str | None = None,
               cost_perturbation_csv: str | None = None,
               proposition6_csv: str | None = None) -> None:  # fmt: skip
    """One ledger over every claims file (one per paper): a section per paper, in file order."""
    t0 = time.time()
    min_seeds = int(spec.get("rates", {}).get("min_seeds", MIN_SEEDS))
    if isinstance(claims_files, str):
        claims_files = [claims_files]
    check_claims_files(claims_files)  # the Snakefile checked them too, before any job
    papers = [(f, *load_claims(f, min_seeds)) for f in claims_files]
    ctx = Context(cube_path, slopes_csv, exponents_csv, table2_csv, train_logs, injection, spec,
                  papers[0][2], exact_csv, dirac_csv, concentration_csv, mfg_equilibrium_csv,
                  cost_perturbation_csv, proposition6_csv)  # fmt: skip
    sections, rows = [], []
    for _, claims, settings in papers:
        ctx.settings = settings
        ctx.reading = choose_reading(settings.reading, ctx.mfg_readings, ctx.mfg_equilibrium)
        section = ledger(claims, ctx, spec["study"])
        sections.append((settings, section, ctx.reading))
        rows += section
    doc = {"study": spec["study"], "claims_files": [recorded_path(f) for f in claims_files],
           "vocabulary": VOCABULARY, "rules": __doc__, "min_seeds": min_seeds,
           "gate_rules": GATE_RULES,
           "papers": [{"paper": st.paper, "claims_file": recorded_path(f),
                       "tolerance": st.tolerance, "fidelity_bars": st.fidelity,
                       "reading": asdict(rd) if rd else None}
                      for (f, _, st), (_, _, rd) in zip(papers, sections, strict=True)],
           "claims": as_json(rows)}  # fmt: skip
    with atomic_path(json_out) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=_json_default))
    with atomic_path(md) as tmp:
        tmp.write_text(render_markdown(sections, spec["study"], min_seeds))
    counts = pd.Series([r["verdict"] for r in rows]).value_counts().to_dict()
    log.info("claims ledger: %d claims of %d papers %s in %.1fs", len(rows), len(papers), counts,
             time.time() - t0)  # fmt: skip


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _f(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _fmt(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(v) else f"{v:.3g}"


def _measured(k: Condition) -> str:
    if not np.isfinite(k.measured):
        return "–"
    if np.isfinite(k.ci_low) and np.isfinite(k.ci_high) and k.ci_low != k.ci_high:
        return f"{_fmt(k.measured)} [{_fmt(k.ci_low)}, {_fmt(k.ci_high)}]"
    return _fmt(k.measured)


def _regime_cell(k: Condition) -> str:
    if k.regime is None:
        return ""
    local = [p.split(": ")[-1] for p in str(k.regime["local_slopes"]).split("; ") if p][-3:]
    state = "passed" if k.regime["passed"] else "**failed**"
    test = f" ({k.regime['test']})" if k.regime.get("test") else ""
    return f"{state}{test}; tail {k.regime['tail']}; last local {', '.join(local)}"


def _fidelity_cell(k: Condition) -> str:
    if k.fidelity is None:
        return ""
    return ("pass" if k.fidelity["passed"] else "**fail**") + f": {k.fidelity['summary']}"


def render_markdown(sections: list[tuple[Settings, list[dict], Reading | None]], study: str,
                    min_seeds: int) -> str:  # fmt: skip
    """The ledger: the rules once, then per paper (claims file) its summary table and its claims
    with their conditions."""
    lines = [
        f"# Claims ledger (study `{study}`)", "",
        "Each numbered claim of the papers, the claimed value (from `workflow/claims/`, one file "
        "per paper), what this workflow measured, and a verdict from the rules of "
        "`mfgstudy.report.claims`. A claim that does not hold is a result. The summary row of "
        "each claim is decided by its judged conditions; context rows (e.g. trained models under "
        "an equilibrium theorem, the printed reading of Algorithm 1) have their own verdicts "
        "beneath it.", "",
        "**Verdicts**", "",
    ]  # fmt: skip
    lines += [f"* **{w}**: {rule}." for w, rule in VOCABULARY.items()]
    lines += [
        "", "**Rules**", "",
        "* Intervals are 95% and match the source of randomness; `CI over` says which: across "
        "seeds of trained models a Welch-Satterthwaite interval (a one-sample t for one arm; on "
        "the log scale for ratios and percentages), valid from 2 seeds per arm, its degrees of "
        "freedom stated; within one run whose only randomness is Monte Carlo (the exact "
        "empirical score) a Clopper-Pearson interval of the pooled count; a jackknife over "
        "sample blocks of one large sample; exact for a closed form; a rate fitted over seeds: "
        f"a jackknife-t over at least {min_seeds} seeds (fewer give no interval and at most an "
        "indication). Several intervals combined into one verdict are Bonferroni-corrected.",
        "* Image metrics have a resolution: a comparison decides only where the two means differ "
        "by more than twice the metric's own spread at this sample size (its sd over disjoint "
        "sets of as many real training images, shown in Table 1's real-data row); below it the "
        "row is inconclusive. The row names any arm that scores beyond held-out real data.",
        "* Bounds from the right side: a bound claim (W2 <= K eps^a, a rate O(N^c)) is confirmed "
        "only by an upper bound or an exact value, refuted only by a lower bound or an exact "
        "value; an estimate with no bias bound (the law-level MW2) is context.",
        "* Rates are judged on their tail: points below their estimator's floor, or moved by "
        "more than `max_refinement_change` at 2N steps (or on a grid twice as fine), are "
        "excluded; the regime test holds the drift of the last two local slopes to its own "
        "jackknife standard error, and to `regime_tol_exact` for a closed form.",
        *[f"* Fidelity gate of a {kind}: {text}." for kind, text in GATE_RULES.items()],
        "* Which reading of Algorithm 1 is MFG-Diffusion is decided before the runs by the "
        "paper's claims file (`reading:`), from closed forms only; its comparative claims are "
        "judged under it, the printed reading's rows are context.", "",
        "**Papers**", "",
    ]  # fmt: skip
    for settings, rows, _ in sections:
        counts = pd.Series([r["verdict"] for r in rows]).value_counts()
        tally = ", ".join(f"{n} {w}" for w, n in counts.items()) or "no claims"
        lines.append(f"* {settings.paper}: {len(rows)} claims ({tally})")
    for settings, rows, reading in sections:
        lines += ["", *_paper_section(settings, rows, reading)]
    return "\n".join(lines) + "\n"


def _reading_lines(reading: Reading | None) -> list[str]:
    if reading is None:
        return []
    lines = [f"**MFG-Diffusion is judged under the reading `{reading.chosen}`** (printed: "
             f"`{reading.printed}`). Rule, fixed before the runs: {reading.rule}.", "",
             "| candidate | qualifies | W2 of the exact equilibrium output to the data | "
             "switches changed from the printed | why |", "|---|---|---|---|---|"]  # fmt: skip
    for c in reading.candidates:
        lines.append(f"| {c['method']} | {'yes' if c['qualifies'] else 'no'} | "
                     f"{_fmt(c['w2_to_data'])} | {', '.join(c['changed']) or '-'} | "
                     f"{c['why']} |")  # fmt: skip
    return [*lines, ""]


def _paper_section(settings: Settings, rows: list[dict], reading: Reading | None = None
                   ) -> list[str]:  # fmt: skip
    bars = "; ".join(f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items())
                     for k, v in settings.fidelity.items()) or "none"  # fmt: skip
    lines = [
        f"## {settings.paper}", "",
        f"Exponent tolerance {settings.tolerance:g} (a claim may state its own). Fidelity bars: "
        f"{bars}.", "",
        headline(settings, rows, reading), "",
        *_reading_lines(reading),
        "### Summary", "",
        "| claim | statement | claimed | verdict | decided by: measured [95% CI] | conditions |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        note = f" *Note: {_md(r['note'])}.*" if r.get("note") else ""
        i = r.get("decided_by")
        by = "" if i is None else f"{r['conditions'][i].label}: {_measured(r['conditions'][i])}"
        lines.append(f"| [{r['id']}](#{r['id']}) | {_md(r['statement'])}{note} | "
                     f"{_claimed(r)} ({_md(r['unit'])}) | **{r['verdict']}** | {_md(by)} | "
                     f"{r['reason']} |")  # fmt: skip
    lines += ["", "### Claims and their conditions", "",
              "| claim / condition | claimed | measured [95% CI] | CI over | seeds | regime | "
              "fidelity | scale | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        anchor = f'<a id="{r["id"]}"></a>'
        gate = f"; gate: {r['gate']}" if r.get("gate") else ""
        lines.append(
            f"| {anchor}**{r['id']}** ({_md(r['source'])}) | "
            f"{_claimed(r)} | | | | | | {r['rule']}{gate} | **{r['verdict']}** |"
        )
        for k in r["conditions"]:
            role = "" if k.role == JUDGED else " (context)"
            cells = [
                f"&nbsp;&nbsp;↳ {k.label}{role}",
                "",
                _measured(k),
                k.ci_over,
                k.n_seeds,
                _regime_cell(k),
                _fidelity_cell(k),
                k.scale,
                f"{k.verdict}: {k.reason}",
            ]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def _claimed(row: dict) -> str:
    """The claimed value as the claims file states it ("–": a qualitative claim has none)."""
    return "–" if row["claimed"] is None else f"{row['claimed']:g}"


def _md(text) -> str:
    """A Markdown table cell: a "|" in the text (|delta| <= eps) must not end the cell."""
    return str(text).replace("|", "\\|")
