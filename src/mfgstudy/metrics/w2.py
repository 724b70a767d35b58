"""Wasserstein-2 estimators between sample sets (exact optimal transport).

Three estimates of the discretisation error of an N-step sampler, because the uncoupled one
alone cannot see below its finite-sample floor:

* ``w2_empirical``: uncoupled EMD between the n generated points and n independent points of the
  data law. Biased upward by a floor of order n^(-1/2) in 2-D (``w2_floor`` measures it with pairs
  of independent reference samples).
* ``w2_coupled``: the root-mean-square distance between sample i of the N-step run and sample i of
  the fine-grid reference run driven by the same x_T and Brownian path. Any coupling bounds W2 from
  above, so this is an upper bound on W2(law_N, law_ref), with Monte-Carlo error only.
* the closed form for Gaussian data laws lives in ``mfgstudy.metrics.gaussian``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def w2_empirical(x: np.ndarray, y: np.ndarray) -> float:
    """W2 between the empirical measures of x (n, d) and y (m, d), uniform weights.

    For n = m an optimal plan is a permutation (Birkhoff), found exactly by the assignment
    solver; otherwise POT's network simplex (``ot.emd2``). Same value either way (tested); the
    assignment path also spares each job POT's import (~3 s, most of a small job's time)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cost = cdist(x.reshape(len(x), -1), y.reshape(len(y), -1), metric="sqeuclidean")
    if len(x) == len(y):
        rows, cols = linear_sum_assignment(cost)
        return float(np.sqrt(max(cost[rows, cols].mean(), 0.0)))
    import ot

    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return float(np.sqrt(max(ot.emd2(a, b, cost, numItermax=10_000_000), 0.0)))


def w2_coupled(x: np.ndarray, x_ref: np.ndarray) -> tuple[float, float]:
    """sqrt(E|x - x_ref|^2) over paired samples, and its standard error (delta method)."""
    sq = np.sum((np.asarray(x, np.float64) - np.asarray(x_ref, np.float64)) ** 2, axis=1)
    m = float(sq.mean())
    rmse = float(np.sqrt(m))
    se = float(sq.std(ddof=1) / np.sqrt(len(sq)) / (2 * rmse)) if rmse > 0 else 0.0
    return rmse, se


def reference_chunk(test: np.ndarray, n: int, index: int) -> np.ndarray:
    """The index-th disjoint block of n reference points (wrapping over the available blocks)."""
    blocks = len(test) // n
    if blocks < 1:
        raise ValueError(f"need at least n={n} reference points, the data set has {len(test)}")
    k = index % blocks
    return test[k * n : (k + 1) * n]


def w2_floor(test: np.ndarray, n: int, repeats: int) -> np.ndarray:
    """EMDs between disjoint pairs of n-point reference blocks: the uncoupled estimator's floor."""
    blocks = len(test) // n
    if blocks < 2:
        raise ValueError(f"the floor needs two blocks of n={n} reference points; have {len(test)}")
    pairs = [(i % blocks, (i + 1) % blocks) for i in range(min(repeats, blocks))]
    return np.array(
        [w2_empirical(reference_chunk(test, n, i), reference_chunk(test, n, j)) for i, j in pairs]
    )
