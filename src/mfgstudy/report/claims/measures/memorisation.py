"""Memorisation (PDE paper, section 4.5): the exact empirical score's share of samples on a
training point (Clopper-Pearson), and a trained network's excess share against it."""

from __future__ import annotations

import numpy as np

from mfgstudy.rates import binomial_interval
from mfgstudy.report.claims.gates import SENSITIVITY, support_gate
from mfgstudy.report.claims.measures.common import per_seed, study_cube
from mfgstudy.report.claims.measures.registry import measure
from mfgstudy.report.claims.verdicts import Condition, fmt


def share_interval(shares, n_draws: int, level: float = 0.95) -> tuple[float, float, float, str]:
    """(point, lo, hi, what): a t interval over seeds for the mean of per-seed shares, each a
    count out of ``n_draws`` samples (a trained model per seed). The seeds' sd is never taken
    below one share's own binomial sd, sqrt(p (1 - p) / n_draws) with p = (k + 1/2) / (n + 1):
    two seeds that happen to score the same share have Monte Carlo noise all the same, which a
    plain t interval would read as an exact value. Fewer than two seeds: no interval."""
    from scipy import stats

    v = np.asarray(shares, float).ravel()
    point = float(v.mean()) if len(v) else np.nan
    if len(v) < 2 or not np.isfinite(v).all():
        return point, np.nan, np.nan, f"{len(v)} seed(s) or a non-finite value: no interval"
    p = (point * n_draws + 0.5) / (n_draws + 1.0)
    floor = float(np.sqrt(p * (1.0 - p) / n_draws))
    sd = max(float(v.std(ddof=1)), floor)
    q = float(stats.t.ppf(0.5 + level / 2, len(v) - 1))
    half = q * sd / np.sqrt(len(v))
    what = (f"t over {len(v)} seeds, df {len(v) - 1}, sd {sd:.3g} (at least a share's binomial "
            f"sd {floor:.3g} of {n_draws} draws)")  # fmt: skip
    return point, max(point - half, 0.0), min(point + half, 1.0), what


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
    Bonferroni pair of intervals: a t interval over the network's seeds (its sd at least a
    share's binomial sd: :func:`share_interval`) and the pooled Clopper-Pearson
    interval of b, each at level 1 - (1 - level) / 2. The fresh draws' share ``chance`` is
    subtracted from both (the ratio is below 1 exactly when mean(a) < mean(b))."""
    half = 1.0 - (1.0 - level) / 2
    _, a_lo, a_hi, a_what = share_interval(a, n_samples, level=half)
    _, b_lo, b_hi, b_what = pooled_share(b, n_samples, half)
    point = (float(np.mean(a)) - chance) / (float(np.mean(b)) - chance)
    if not (np.isfinite(a_lo) and b_lo > chance):
        return point, np.nan, np.nan, f"{a_what}; {b_what}"
    lo, hi = (a_lo - chance) / (b_hi - chance), (a_hi - chance) / (b_lo - chance)
    return point, lo, hi, f"{a_what}; {b_what}; Bonferroni over the two"


@measure("memorisation", evidence=("memorisation",), gate=SENSITIVITY)
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
    cube = study_cube(ctx, m["study"])
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
            inside = per_seed(cube, "in_support", m["method"], dataset=dataset, grid=grids[0])
            gate = support_gate(np.nan, np.nan, inside.mean() if len(inside) else np.nan, bar)
            gate["summary"] = f"{m['method']}: {gate['summary']}"
        for stat, fresh in m["statistics"].items():
            label = f"M = {n_train}, t_stop = {t_stop[grids[0]]:g}: {stat}"
            vals = {g: per_seed(cube, stat, m["method"], dataset=dataset, grid=g) for g in grids}
            a = vals[grids[0]]
            b = per_seed(cube, stat, b_name, dataset=dataset, grid=grids[0]) if b_name else None
            f = per_seed(cube, fresh, m["method"], dataset=dataset, grid=grids[0])
            if not len(a) or (b is not None and not (len(b) and len(f))):
                out.append(Condition(label, np.nan, group=f"M{n_train}",
                                     reason=f"no {stat} in the metrics cube"))  # fmt: skip
                continue
            fresh_txt = f"fresh draws {fmt(f.mean())} ({fresh})" if len(f) else "no fresh draws"
            later = ", ".join(f"{t_stop[g]:g}: {fmt(vals[g].mean())}" for g in grids[1:]
                              if len(vals[g]))  # fmt: skip
            if b is None:
                point, lo, hi, over = pooled_share(a, int(spec["n_samples"]))
                scale = f"{m['method']} {fmt(a.mean())}; {fresh_txt}"
                n = len(a)
            else:
                chance = float(f.mean())
                point, lo, hi, over = excess_ratio(a, b, chance, int(spec["n_samples"]))
                scale = (f"excess over fresh draws: {m['method']} {fmt(a.mean() - chance)}, "
                         f"{b_name} {fmt(b.mean() - chance)} (shares {fmt(a.mean())}, "
                         f"{fmt(b.mean())}; {fresh_txt})")  # fmt: skip
                n = min(len(a), len(b))
            scale += f"; delta {spec['delta']:g}, mean over {n} seed(s)"
            scale += f"; {m['method']} at larger t_stop: {later}" if later else ""
            out.append(Condition(label, point, lo, hi, over, n, scale, group=f"M{n_train}",
                                 fidelity=gate))  # fmt: skip
    return out
