"""Where samples fall relative to a support made of boxes, and how close they come to training data.

The support U is the union of K axis-aligned closed boxes [lows_k, highs_k] in R^d (lows, highs of
shape (K, d)); boxes may share faces, and the law on U is uniform (volume-weighted over boxes,
which assumes they do not overlap).

* ``distance_to_boxes``: Euclidean distance from each point to U (0 inside).
* ``in_support_fraction``: share of points in U (closed boxes, so points on faces count).
* ``distance_to_boundary``: Euclidean distance to the boundary of U (not of the single boxes: a
  face shared by two boxes is interior). It is max(dist(x, U), dist(x, closure of U^c)), one of
  the two being 0. The complement is computed exactly: the box coordinates cut each axis into
  intervals, the product grid's cells lie each either inside U or outside it, and the closure of
  U^c is the union of the outside cells (the unbounded ones included). The cost is one distance
  per outside cell, at most prod_j (2K + 1) of them.
* ``boundary_band_fraction``: share of points with distance_to_boundary < width, inside or out.
* ``expected_boundary_band_fraction``: the same statistic for the uniform law on U, by Monte Carlo
  with a fixed seed; the ratio measured / expected is ~1 for samples of the law and > 1 where
  samples pile up at the edges (a Gibbs-like overshoot).
* ``nearest_distance``: Euclidean distance from each sample to its nearest reference point (any
  event shape, flattened), by blocks of both sets to bound memory.
* ``within_fraction``: share of samples within delta (<=) of some reference point, a
  memorisation measure when the reference is the training set.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 4096


def _boxes(lows, highs) -> tuple[np.ndarray, np.ndarray]:
    lows, highs = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    if lows.ndim != 2 or lows.shape != highs.shape or np.any(highs < lows):
        raise ValueError(
            f"need lows <= highs of equal shape (K, d), got {lows.shape}, {highs.shape}"
        )
    return lows, highs


def _points(x, d: int) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"points must have shape (n, {d}), got {x.shape}")
    return x


def _min_distance(x: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """min_k dist(x, [lows_k, highs_k]) for x (n, d); infinite bounds allowed."""
    out = np.empty(len(x))
    if len(lows) == 0:
        out.fill(np.inf)
        return out
    for lo in range(0, len(x), _CHUNK):
        xc = x[lo : lo + _CHUNK, None, :]  # (c, 1, d)
        gap = np.maximum(np.maximum(lows - xc, xc - highs), 0.0)  # (c, K, d)
        out[lo : lo + _CHUNK] = np.sqrt(np.square(gap).sum(-1).min(1))
    return out


def _complement_cells(lows: np.ndarray, highs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed cells (lows, highs) of the grid cut by the box faces that lie outside the union."""
    d = lows.shape[1]
    edges = [np.r_[-np.inf, np.unique(np.r_[lows[:, j], highs[:, j]]), np.inf] for j in range(d)]
    idx = np.stack(np.meshgrid(*[np.arange(len(e) - 1) for e in edges], indexing="ij"), -1)
    idx = idx.reshape(-1, d)
    c_lo = np.stack([edges[j][idx[:, j]] for j in range(d)], 1)
    c_hi = np.stack([edges[j][idx[:, j] + 1] for j in range(d)], 1)
    bounded = np.all(np.isfinite(c_lo) & np.isfinite(c_hi), axis=1)
    centre = np.where(bounded[:, None], 0.5 * (c_lo + c_hi), 0.0)
    inside = bounded & np.any(
        np.all((centre[:, None] > lows) & (centre[:, None] < highs), axis=-1), axis=1
    )
    return c_lo[~inside], c_hi[~inside]


def distance_to_boxes(x, lows, highs) -> np.ndarray:
    """Euclidean distance from each point of x (n, d) to the union of the boxes, (n,)."""
    lows, highs = _boxes(lows, highs)
    return _min_distance(_points(x, lows.shape[1]), lows, highs)


def in_support_fraction(x, lows, highs) -> float:
    """Share of the points of x (n, d) in the union of the closed boxes."""
    return float(np.mean(distance_to_boxes(x, lows, highs) == 0.0))


def distance_to_boundary(x, lows, highs) -> np.ndarray:
    """Euclidean distance from each point of x (n, d) to the boundary of the union, (n,)."""
    lows, highs = _boxes(lows, highs)
    x = _points(x, lows.shape[1])
    to_union = _min_distance(x, lows, highs)
    out = to_union.copy()
    inside = to_union == 0.0
    if np.any(inside):
        out[inside] = _min_distance(x[inside], *_complement_cells(lows, highs))
    return out


def boundary_band_fraction(x, lows, highs, width: float) -> float:
    """Share of the points of x (n, d) closer than width to the boundary of the union."""
    return float(np.mean(distance_to_boundary(x, lows, highs) < width))


def sample_boxes(lows, highs, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws (n, d) of the uniform law on the union of disjoint boxes."""
    lows, highs = _boxes(lows, highs)
    vol = np.prod(highs - lows, axis=1)
    k = rng.choice(len(vol), size=n, p=vol / vol.sum())
    return lows[k] + (highs[k] - lows[k]) * rng.random((n, lows.shape[1]))


def expected_boundary_band_fraction(
    lows, highs, width: float, n: int = 200_000, seed: int = 0
) -> float:
    """boundary_band_fraction for n draws of the uniform law on the union (fixed seed)."""
    x = sample_boxes(lows, highs, n, np.random.default_rng(seed))
    return boundary_band_fraction(x, lows, highs, width)


def nearest_distance(x, points, chunk: int = 2048) -> np.ndarray:
    """Euclidean distance from each row of x to its nearest row of points, (n,).

    Trailing dimensions are flattened. Blocks of chunk x chunk pairs bound memory; the nearest
    point is found with |x|^2 + |p|^2 - 2 x.p and its distance recomputed directly, so that an
    exact copy is at distance 0.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    p = np.asarray(points, np.float64).reshape(len(points), -1)
    if x.shape[1] != p.shape[1] or len(p) == 0:
        raise ValueError(f"need non-empty points of x's event size, got {x.shape}, {p.shape}")
    p2 = np.square(p).sum(1)
    out = np.empty(len(x))
    for lo in range(0, len(x), chunk):
        xc = x[lo : lo + chunk]
        x2 = np.square(xc).sum(1)
        best = np.full(len(xc), np.inf)
        arg = np.zeros(len(xc), dtype=np.int64)
        for plo in range(0, len(p), chunk):
            d2 = x2[:, None] + p2[None, plo : plo + chunk] - 2.0 * xc @ p[plo : plo + chunk].T
            j = d2.argmin(1)
            m = d2[np.arange(len(xc)), j]
            better = m < best
            best[better], arg[better] = m[better], plo + j[better]
        out[lo : lo + chunk] = np.sqrt(np.square(xc - p[arg]).sum(1))
    return out


def within_fraction(x, points, delta: float) -> float:
    """Share of the rows of x within distance delta (<=) of some row of points."""
    return float(np.mean(nearest_distance(x, points) <= delta))
