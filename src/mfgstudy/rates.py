"""Rate inference: how fast an error decays towards a limit, judged where it is asymptotic.

Every rate of the study goes through ``fit_rate``: W2 against the number of steps N (N -> inf),
W2 against the perturbation size eps (eps -> 0), the equilibrium violation against the outer
iteration K (K -> inf) and the distance to the support against the stopping time t (t -> 0).
A claim "error = O(x^c)" is a statement about the limit, so a whole-range fit that mixes a
pre-asymptotic regime is shown, never judged. The procedure, on the grid ordered from far to
near the limit:

1. **Usable points**: finite, positive, and at least ``floor_factor`` times above the
   estimator's own floor where it has one (finite-sample W2, round-off of a closed form,
   Monte-Carlo noise of a coupled estimate); a rate below its estimator's floor is noise. Where
   the measurement has a refinement check (the same value computed with twice the steps or a
   grid twice as fine: ``change``, its relative change), a point whose value moved by more than
   ``max_refinement_change`` is not the limit's value and is not usable either.
2. **Unstable points**: far from the limit a scheme can be unstable (a step too large): the
   error then grows towards the limit before it starts to fall. The leading points up to the
   first fall are excluded as pre-asymptotic. A growth beyond ``floor_factor`` x the floor is
   needed where the estimator has one (a rise within its noise is not an instability). A growth
   after the error has started to fall is kept: an error that stops falling near the limit is
   a result (its local slopes show it), not something to exclude.
3. **Local slopes** between consecutive kept points: d log(error) / d log(x).
4. **Tail slope**: least squares over the last ``tail`` kept points (nearest the limit).
5. **Regime test**: the drift D = s[-1] - s[-2] of the last two local slopes (of the kept
   points, from the mean curve, or the full-sample estimate ``point``) must be within its own
   noise:

   * ``exact``: no noise; passes iff |D| <= ``regime_tol_exact``.
   * ``seeds`` (n >= 2): se_D is the delete-one-seed jackknife standard error of D (D_i from
     the mean curve without seed i), se_D = sqrt((n - 1) / n * sum_i (D_i - mean D)^2), and q
     the two-sided Student-t quantile at ``level`` with n - 1 degrees of freedom; passes iff
     |D| <= max(``regime_tol_exact``, q se_D): a drift below the exact tolerance is negligible
     for any estimator, above it the drift must be within q standard errors of zero.
   * ``jackknife`` (n >= 2 delete-one-block replicates): D_i from replicate curve i, the same
     se_D formula, q the normal quantile at ``level``; the same pass condition.
   * one replicate (``seeds``; or ``jackknife`` with fewer than 2), or a replicate drift that
     is not defined (a non-positive replicate value): no standard error; passes iff |D| <=
     ``regime_tol``, a fixed tolerance, and the note says so.

   A rate verdict uses only a tail slope that passed it; otherwise the rate is *not in the
   asymptotic regime* over the grid that was run.
6. **Interval** of the tail slope, from the replicates the caller supplies and says what they
   are (``resampling``):

   * ``seeds``: independent seeds; a delete-one-seed jackknife of the slope of the seed-mean
     curve with a Student-t quantile (n - 1 degrees of freedom). Fewer than ``min_seeds``
     seeds give no interval: the slope is then at most indicative.
   * ``jackknife``: delete-one-block jackknife replicates of an estimator computed on one large
     sample (the replicate curves are the estimates without block b); normal quantile.
   * ``exact``: a closed form, no sampling: the interval is the point.

Pure numpy, no I/O: the report and the claims ledger call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RESAMPLINGS = ("seeds", "jackknife", "exact")
MIN_SEEDS = 5


def _quantile(p: float, df: int | None = None) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom, or of the standard normal
    where ``df`` is None."""
    from scipy import stats  # imported where used: half a second a job that never fits a rate

    return float(stats.norm.ppf(p) if df is None else stats.t.ppf(p, df))


@dataclass(frozen=True)
class RateSpec:
    """How a rate is read off a curve (defaults: the study's ``report.rates``)."""

    limit: str = "large"  # "large" (N, K -> inf) or "small" (eps, t -> 0)
    tail: int = 3  # points in the tail fit (two local slopes for the regime test)
    regime_tol: float = 0.1  # fixed drift tolerance: only where no standard error exists
    regime_tol_exact: float = 0.02  # closed form: drift tolerance; noisy: the bar's floor
    floor_factor: float = 2.0  # usable only where error >= floor_factor x floor
    max_refinement_change: float = np.inf  # usable only where the refinement check moved less
    min_seeds: int = MIN_SEEDS  # seeds needed for an interval over seeds
    level: float = 0.95

    @classmethod
    def from_dict(cls, spec: dict | None, **override) -> RateSpec:
        known = {k: v for k, v in (spec or {}).items() if k in cls.__dataclass_fields__}
        return cls(**{**known, **override})


@dataclass
class Rate:
    """A fitted rate. ``x``/``y`` are ordered from far to near the limit (y: replicate mean)."""

    x: np.ndarray
    y: np.ndarray
    kept: np.ndarray  # bool: used for local slopes and the tail
    local: np.ndarray  # local slopes between consecutive kept points (len kept - 1)
    local_x: list[tuple[float, float]]  # the pairs of x each local slope spans
    slope: float  # tail slope (NaN: too few kept points)
    ci_low: float
    ci_high: float
    regime: bool
    resampling: str
    n_replicates: int
    fit_all: float  # least squares over every kept point: shown, never judged
    tail_x: tuple[float, float] = (np.nan, np.nan)
    excluded: list[str] = field(default_factory=list)
    note: str = ""
    regime_drift: float = np.nan  # D: last local slope minus the one before it
    regime_se: float = np.nan  # jackknife standard error of D (NaN: exact, or none exists)
    regime_bar: float = np.nan  # the threshold |D| was held to
    regime_test: str = ""  # the regime test in words

    @property
    def has_ci(self) -> bool:
        return bool(np.isfinite(self.ci_low) and np.isfinite(self.ci_high))


def _g(v) -> str:
    return f"{float(v):g}"


def rate_columns(rate: Rate) -> dict:
    """A fitted rate as table columns (every rate table of the study has these)."""
    local = "; ".join(f"{a:g}-{b:g}: {s:+.2f}" for (a, b), s in zip(rate.local_x, rate.local,
                                                                    strict=True))  # fmt: skip
    fitted = np.isfinite(rate.slope)
    return {
        "tail_slope": rate.slope,
        "ci_low": rate.ci_low,
        "ci_high": rate.ci_high,
        "ci_over": rate.note.split(";")[0] if fitted else "",
        "regime": ("passed" if rate.regime else "failed") if fitted else "",
        "regime_test": rate.regime_test if fitted else "",
        "local_slopes": local,
        "tail": f"{rate.tail_x[0]:g}-{rate.tail_x[1]:g}" if fitted else "",
        "fit_all": rate.fit_all,
        "n_seeds": rate.n_replicates if rate.resampling == "seeds" else 0,
        "excluded": "; ".join(rate.excluded),
        "note": rate.note,
    }


def local_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d log y / d log x between consecutive points."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return np.diff(ly) / np.diff(lx)


def _ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or not np.all(np.isfinite(y)) or np.any(y <= 0):
        return np.nan
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _order(x: np.ndarray, limit: str) -> np.ndarray:
    if limit not in ("large", "small"):
        raise ValueError(f"rate limit must be 'large' or 'small', not {limit!r}")
    return np.argsort(x) if limit == "large" else np.argsort(x)[::-1]


def fit_rate(
    x,
    curves,
    spec: RateSpec = RateSpec(),
    resampling: str = "seeds",
    floor=None,
    point=None,
    change=None,
) -> Rate:
    """The rate of ``curves`` (replicates x grid, or one curve) in ``x`` towards ``spec.limit``.

    ``floor``: the estimator's floor per grid point (or one value); points below
    ``floor_factor`` x floor are not usable. ``point``: the full-sample estimate per grid point
    when ``curves`` are jackknife replicates (default: the mean of ``curves``). ``change``: the
    relative change of each grid point's value under refinement; points above
    ``max_refinement_change`` are not usable."""
    if resampling not in RESAMPLINGS:
        raise ValueError(f"resampling must be one of {RESAMPLINGS}, not {resampling!r}")
    x = np.asarray(x, float)
    c = np.atleast_2d(np.asarray(curves, float))
    if c.shape[1] != x.size:
        raise ValueError(f"curves have {c.shape[1]} grid points, x has {x.size}")
    c = c[np.isfinite(c).any(axis=1)]  # a replicate that was not run at all
    order = _order(x, spec.limit)
    x, c = x[order], c[:, order]
    y = c.mean(0) if len(c) else np.full(x.size, np.nan)
    if point is not None:
        y = np.asarray(point, float)[order]
    fl = np.broadcast_to(np.nan if floor is None else np.asarray(floor, float), x.shape)[order]
    excluded = []
    usable = np.isfinite(y) & (y > 0) & (np.isfinite(c).all(0) if len(c) else False)
    below = usable & np.isfinite(fl) & (y < spec.floor_factor * fl)
    for xi in x[below]:
        excluded.append(f"{_g(xi)}: below {spec.floor_factor:g} x the estimator's floor")
    usable &= ~below
    ch = np.broadcast_to(np.nan if change is None else np.asarray(change, float), x.shape)[order]
    moved = usable & np.isfinite(ch) & (ch > spec.max_refinement_change)
    for xi, ci in zip(x[moved], ch[moved], strict=True):
        excluded.append(f"{_g(xi)}: refinement changed it by {ci:.2g} > "
                        f"{spec.max_refinement_change:g}")  # fmt: skip
    usable &= ~moved
    kept = usable.copy()
    idx = np.flatnonzero(usable)
    noise = np.where(np.isfinite(fl), spec.floor_factor * fl, 0.0)
    lead = 0
    while lead < len(idx) - 1:
        a, b = idx[lead], idx[lead + 1]
        if y[b] <= y[a] + max(noise[a], noise[b]):
            break
        lead += 1
    for k in idx[:lead]:
        kept[k] = False
        excluded.append(
            f"{_g(x[k])}: pre-asymptotic (error grows towards the limit up to {_g(x[idx[lead]])})"
        )
    ki = np.flatnonzero(kept)
    local = local_slopes(x[ki], y[ki]) if ki.size >= 2 else np.array([])
    local_x = [(float(x[a]), float(x[b])) for a, b in zip(ki[:-1], ki[1:], strict=True)]
    fit_all = _ols_slope(x[ki], y[ki]) if ki.size >= 2 else np.nan
    rate = Rate(x=x, y=y, kept=kept, local=local, local_x=local_x, slope=np.nan,
                ci_low=np.nan, ci_high=np.nan, regime=False, resampling=resampling,
                n_replicates=len(c), fit_all=fit_all, excluded=excluded)  # fmt: skip
    if ki.size < spec.tail:
        rate.note = f"only {ki.size} usable points (the tail needs {spec.tail})"
        return rate
    tail = ki[-spec.tail :]
    rate.tail_x = (float(x[tail[0]]), float(x[tail[-1]]))
    rate.slope = _ols_slope(x[tail], y[tail])
    rate.ci_low, rate.ci_high, rate.note = _interval(x[tail], c[:, tail], rate.slope, spec,
                                                     resampling)  # fmt: skip
    _regime_test(rate, x[ki[-3:]], c[:, ki[-3:]], spec)
    return rate


def _drift(x, y) -> float:
    """The drift of the last two local slopes of (x, y) (three points)."""
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        return np.nan
    s = local_slopes(x, y)
    return float(s[-1] - s[-2])


def _regime_test(rate: Rate, x, c, spec: RateSpec) -> None:
    """Step 5 (module docstring) on the last three kept points ``x`` and the replicates ``c``
    there: sets ``regime``, ``regime_drift``, ``regime_se``, ``regime_bar``, ``regime_test``
    and, where it fails or falls back to the fixed tolerance, says so in ``note``."""
    if rate.local.size < 2:
        rate.regime_test = "no regime test: fewer than two local slopes"
        rate.note += "; " + rate.regime_test
        return
    d = float(rate.local[-1] - rate.local[-2])
    n, tol = len(c), spec.regime_tol_exact
    se = q = np.nan
    fallback = ""
    if rate.resampling != "exact" and n < 2:
        fallback = "one replicate"
    elif rate.resampling != "exact":
        if rate.resampling == "seeds":
            reps = np.array([_drift(x, np.delete(c, i, axis=0).mean(0)) for i in range(n)])
            q = _quantile(0.5 + spec.level / 2, n - 1)
        else:  # delete-one-block replicates of one large sample
            reps = np.array([_drift(x, r) for r in c])
            q = _quantile(0.5 + spec.level / 2)
        se = float(np.sqrt((n - 1) / n * np.sum((reps - reps.mean()) ** 2)))
        if not np.isfinite(se):
            se, fallback = np.nan, "a replicate drift undefined (a value <= 0)"
    if fallback:
        why = "one replicate" if n < 2 else "no standard error"
        bar, rule = spec.regime_tol, f"fixed tolerance {spec.regime_tol:g} ({why})"
        rate.note += f"; {fallback}: regime test with the fixed tolerance {spec.regime_tol:g}"
    elif np.isnan(se):
        bar, rule = tol, f"exact tolerance {tol:g}"
    else:
        bar, rule = max(tol, q * se), f"max({tol:g}, {q:.3g} x se {se:.2g})"
    rate.regime = bool(abs(d) <= bar)
    rate.regime_drift, rate.regime_se, rate.regime_bar = d, se, float(bar)
    if not rate.regime:
        rate.regime_test = f"drift {d:.2g} beyond {rule}"
        rate.note += (
            f"; last two local slopes {rate.local[-2]:+.2f}, {rate.local[-1]:+.2f} differ by "
            f"more than {'' if rule.startswith('max') else 'the '}{rule}"
        )
    elif np.isfinite(se) and q * se > tol:
        rate.regime_test = f"drift {d:.2g} within {q:.3g} x se {se:.2g}"
    elif np.isfinite(se):  # the noise is below the exact tolerance: that one decides
        rate.regime_test = f"drift {d:.2g} <= exact tolerance {tol:g} ({q:.3g} x se {se:.2g})"
    else:
        rate.regime_test = f"drift {d:.2g} <= {rule}"


def _interval(x, c, point, spec: RateSpec, resampling: str) -> tuple[float, float, str]:
    n = len(c)
    if resampling == "exact":
        if n > 1 and not np.allclose(c, c[:1], rtol=1e-9, atol=0):
            raise ValueError("resampling 'exact' with replicates that differ")
        return point, point, "exact (closed form, no sampling)"
    if resampling == "seeds" and n < spec.min_seeds:
        return np.nan, np.nan, f"{n} seed(s): no interval (needs {spec.min_seeds}), indicative"
    if resampling == "seeds":
        reps = np.array([_ols_slope(x, np.delete(c, i, axis=0).mean(0)) for i in range(n)])
        se = np.sqrt((n - 1) / n * np.sum((reps - reps.mean()) ** 2))
        q = _quantile(0.5 + spec.level / 2, n - 1)
        what = f"jackknife over {n} seeds, t({n - 1})"
    else:  # jackknife replicates of one large sample (delete one block each)
        if n < 2:
            return np.nan, np.nan, "one replicate: no interval"
        reps = np.array([_ols_slope(x, r) for r in c])
        se = np.sqrt((n - 1) / n * np.sum((reps - reps.mean()) ** 2))
        q = _quantile(0.5 + spec.level / 2)
        what = f"jackknife over {n} sample blocks"
    return point - q * se, point + q * se, what


SCALES = ("difference", "log_ratio")


def welch_interval(a, b=None, scale: str = "difference",
                   level: float = 0.95) -> tuple[float, float, float, str]:  # fmt: skip
    """(point, lo, hi, what) for per-seed values of independent models, valid from 2 seeds per
    arm: with ``b`` None a one-sample t interval for mean(a), else a Welch-Satterthwaite
    interval comparing the arms.

    ``scale`` "difference": mean(a) - mean(b) (or mean(a)), standard error sqrt(sum s_j^2 / n_j).
    ``scale`` "log_ratio", for positive quantities: the point mean(a) / mean(b) (or mean(a)) and
    the interval of its logarithm, exponentiated; each arm's variance term is the delta
    method's s_j^2 / (n_j mean_j^2). Ratios and percentages (100 (ratio - 1)) live on this scale.
    The degrees of freedom are Welch-Satterthwaite's, (sum u_j)^2 / sum u_j^2 / (n_j - 1), with
    u_j the arms' variance terms (n - 1 for one arm), and ``what`` states them. Fewer than two
    seeds in an arm, or a non-positive mean on the log scale, give NaNs and the reason."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    arms = [np.asarray(v, float).ravel() for v in ((a,) if b is None else (a, b))]
    means = [float(v.mean()) if len(v) else np.nan for v in arms]
    log = scale == "log_ratio"
    if log and not all(m > 0 for m in means):
        return np.nan, np.nan, np.nan, "a non-positive mean: no log-scale interval"
    if b is None:
        point = means[0]
    else:
        point = means[0] / means[1] if log else means[0] - means[1]
    n_min = min(len(v) for v in arms)
    if n_min < 2 or not all(np.isfinite(v).all() for v in arms):
        return point, np.nan, np.nan, f"{n_min} seed(s) or a non-finite value: no interval"
    u = np.array([v.var(ddof=1) / len(v) / (m * m if log else 1.0)
                  for v, m in zip(arms, means, strict=True)])  # fmt: skip
    se = float(np.sqrt(u.sum()))
    sizes = " and ".join(str(len(v)) for v in arms)
    if se == 0.0:
        return point, point, point, f"no spread over {sizes} seeds: the interval is the point"
    df = float(u.sum() ** 2 / np.sum(u**2 / np.array([len(v) - 1 for v in arms])))
    q = _quantile(0.5 + level / 2, df)
    center = np.log(point) if log else point
    lo, hi = center - q * se, center + q * se
    kind = "Welch" if b is not None else "t"
    what = f"{kind} over {sizes} seeds, df {df:.1f}" + (", log scale" if log else "")
    return point, *((float(np.exp(lo)), float(np.exp(hi))) if log else (lo, hi)), what


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float, float, str]:
    """(k / n, lo, hi, what): the Clopper-Pearson interval of a binomial proportion, for a
    fraction counted within one run (memorisation, support), where the samples are the only
    randomness. Exact: its coverage is at least ``level`` for every true proportion."""
    from scipy import stats

    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"a binomial count needs 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    alpha = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return k / n, lo, hi, f"Clopper-Pearson over {n} samples"
