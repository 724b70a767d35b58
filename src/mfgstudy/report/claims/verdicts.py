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
has a resolution (``image_resolution``): twice the metric's own sd at the compared sets' size (a
Fréchet distance: the jackknife sd of each compared set, r.m.s. over both arms' seeds; other
metrics: their sd over disjoint real sets of the same size). A comparison reproduces a claim only
where the two means differ by more than it, and refutes one only where the measured difference
lies further than it from the claimed difference (``unresolved_by_metric``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mfgstudy.rates import MIN_SEEDS

RULES_TEXT = __doc__  # the rules, as claims.json records them
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


def unresolved_by_metric(word: str, claimed: float, res: dict) -> str:
    """Why an image metric cannot carry ``word`` (an improvement's verdict; claimed: % better),
    or "": a reproduction needs the two means apart by more than the resolution (twice the
    metric's sd at this sample size), a refutation the measured difference that far from the
    claimed one (``res``: from ``measures.table1.image_resolution``)."""
    if word == REPRODUCED and not res["passed"]:
        return f"the difference is below the metric's resolution: {res['summary']}"
    if word == FAILS:
        gap = abs(res["better_by"] - claimed / 100.0 * res["baseline"])
        if gap <= 2.0 * res["sd"]:
            return (f"the measured difference lies within the metric's resolution of the claimed "
                    f"one ({gap:.3g} apart): {res['summary']}")  # fmt: skip
    return ""


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
    if not (np.isfinite(c.ci_low) and np.isfinite(c.ci_high)):
        point = interval_verdict(rule, claimed, c.measured, c.measured, tol)
        return INCONCLUSIVE, f"no interval ({c.ci_over or 'too few seeds'}); indicative: {point}"
    word = interval_verdict(rule, claimed, c.ci_low, c.ci_high, tol)
    unresolved = c.resolution is not None and unresolved_by_metric(word, claimed, c.resolution)
    if unresolved:
        return INCONCLUSIVE, unresolved
    if word == FAILS and c.upper_bound:
        return INCONCLUSIVE, "an upper-bound estimate short of a bound claim cannot refute it"
    if word == REPRODUCED and c.lower_bound:
        return INCONCLUSIVE, "a lower-bound estimate cannot confirm a bound claim"
    if rule in BOUND_RULES and c.estimate and word != INCONCLUSIVE:
        return INCONCLUSIVE, (f"indicative: {word}; an estimate with no bias bound decides no "
                              "bound claim")  # fmt: skip
    if word == INCONCLUSIVE:
        return word, "the interval holds both the claim and its failure"
    return word, f"interval [{fmt(c.ci_low)}, {fmt(c.ci_high)}] ({c.ci_over})"


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


def as_number(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def fmt(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(v) else f"{v:.3g}"
