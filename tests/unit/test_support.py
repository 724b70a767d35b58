"""Support statistics for box-shaped supports and nearest-neighbour distances."""

from __future__ import annotations

import numpy as np
import pytest

from mfgstudy.core.exact import BoxUniform
from mfgstudy.data import sample_checkerboard
from mfgstudy.metrics.support import (
    boundary_band_fraction,
    distance_to_boundary,
    distance_to_boxes,
    expected_boundary_band_fraction,
    in_support_fraction,
    nearest_distance,
    within_fraction,
)

CELLS, HALF_WIDTH = 4, 2.0
SIDE = 2 * HALF_WIDTH / CELLS
BOARD = BoxUniform.checkerboard(CELLS, HALF_WIDTH)
LOWS, HIGHS = BOARD.lows.numpy(), BOARD.highs.numpy()
UNIT = (np.array([[0.0, 0.0]]), np.array([[1.0, 1.0]]))
# two boxes sharing the face x = 1: the union is the rectangle [0, 2] x [0, 1]
SLAB = (np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [2.0, 1.0]]))


def test_distance_to_boxes_by_hand():
    x = np.array([[0.5, 0.5], [1.5, 0.5], [0.3, -2.0], [2.0, 2.0], [-3.0, 5.0], [1.0, 0.2]])
    expected = [0.0, 0.5, 2.0, np.sqrt(2.0), 5.0, 0.0]
    np.testing.assert_allclose(distance_to_boxes(x, *UNIT), expected, rtol=1e-12)
    # the nearest of several boxes
    np.testing.assert_allclose(distance_to_boxes([[2.5, 0.5], [1.0, 3.0]], *SLAB), [0.5, 2.0])


def test_distance_to_boundary_of_the_union():
    x = np.array([[0.5, 0.5], [1.0, 0.5], [1.0, 0.9], [2.5, 0.5], [1.5, 1.0], [0.2, 0.3]])
    # the shared face x = 1 is interior: (1, 0.5) is 0.5 from the boundary, not 0
    np.testing.assert_allclose(distance_to_boundary(x, *SLAB), [0.5, 0.5, 0.1, 0.5, 0.0, 0.2])
    assert boundary_band_fraction([[1.0, 0.5]], *SLAB, width=0.3) == 0.0
    assert boundary_band_fraction([[1.0, 0.5]], *UNIT, width=0.3) == 1.0
    # a unit cube with a unit arm on three of its faces (shared faces, re-entrant edges)
    lows = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    highs = np.array([[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]])
    y = np.array([[0.5, 0.5, 0.5], [0.9, 0.9, 0.9], [1.5, 0.5, 0.5], [1.2, 1.2, 0.5]])
    expected = [0.5, 0.1 * 2**0.5, 0.5, 0.2]  # (0.9, 0.9, 0.9) is nearest the re-entrant edges
    np.testing.assert_allclose(distance_to_boundary(y, lows, highs), expected)


def test_in_support_fraction_checkerboard():
    x = sample_checkerboard(np.random.default_rng(0), 5000, CELLS, HALF_WIDTH)
    assert in_support_fraction(x, LOWS, HIGHS) == 1.0
    white = [(i, j) for i in range(CELLS) for j in range(CELLS) if (i + j) % 2 == 1]
    rng = np.random.default_rng(1)
    ij = np.asarray(white)[rng.integers(len(white), size=5000)]
    in_white = -HALF_WIDTH + SIDE * (ij + 0.01 + 0.98 * rng.random((5000, 2)))
    assert in_support_fraction(in_white, LOWS, HIGHS) == 0.0
    assert in_support_fraction(np.array([[0.5, 0.5], [1.5, 0.5]]), *UNIT) == 0.5


@pytest.mark.parametrize("width", [0.02, 0.1])
def test_boundary_band_of_the_true_law_matches_its_expectation(width):
    expected = expected_boundary_band_fraction(LOWS, HIGHS, width)
    # every black cell keeps its full frame: 1 - (1 - 2 w / side)^2 of the mass is in the band
    assert expected == pytest.approx(1 - (1 - 2 * width / SIDE) ** 2, rel=0.02)
    x = sample_checkerboard(np.random.default_rng(5), 200_000, CELLS, HALF_WIDTH)
    assert boundary_band_fraction(x, LOWS, HIGHS, width) / expected == pytest.approx(1.0, abs=0.03)
    # an excess of mass on the cell edges (one coordinate snapped to its cell's nearest edge)
    snapped = x[:40_000].copy()
    snapped[:, 0] = -HALF_WIDTH + SIDE * np.round((snapped[:, 0] + HALF_WIDTH) / SIDE)
    gibbs = np.concatenate([x[40_000:], snapped])
    assert boundary_band_fraction(gibbs, LOWS, HIGHS, width) / expected > 1.2


def test_boundary_band_on_edges_and_at_centres():
    # points along the four sides of every black cell (all of them are on the union's boundary)
    t = np.linspace(0.0, 1.0, 11)[:, None]
    on_edges = []
    for lo, hi in zip(LOWS, HIGHS, strict=True):
        for j in range(2):
            for v in (lo[j], hi[j]):
                p = lo + t * (hi - lo)
                p[:, j] = v
                on_edges.append(p)
    on_edges = np.concatenate(on_edges)
    assert boundary_band_fraction(on_edges, LOWS, HIGHS, width=1e-3) == 1.0
    np.testing.assert_array_equal(distance_to_boundary(on_edges, LOWS, HIGHS), 0.0)
    centres = -HALF_WIDTH + SIDE * (np.stack(np.meshgrid(range(CELLS), range(CELLS)), -1) + 0.5)
    centres = centres.reshape(-1, 2)
    np.testing.assert_allclose(distance_to_boundary(centres, LOWS, HIGHS), SIDE / 2)
    assert boundary_band_fraction(centres, LOWS, HIGHS, width=0.49 * SIDE) == 0.0
    assert boundary_band_fraction(centres, LOWS, HIGHS, width=0.51 * SIDE) == 1.0


def test_nearest_distance_against_brute_force():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 1, 8, 8))
    pts = rng.standard_normal((500, 1, 8, 8))
    brute = np.sqrt(((x.reshape(300, 1, -1) - pts.reshape(1, 500, -1)) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(nearest_distance(x, pts, chunk=64), brute, rtol=1e-12)
    np.testing.assert_allclose(nearest_distance(x, pts), brute, rtol=1e-12)


def test_within_fraction():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (400, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(nearest_distance(pts, pts, chunk=100), 0.0)
    assert within_fraction(pts, pts, 0.0) == 1.0
    assert within_fraction(pts + 10.0, pts, 1.0) == 0.0
    half = np.concatenate([pts[:50], pts[:50] + 10.0])
    assert within_fraction(half, pts, 1e-6) == 0.5
