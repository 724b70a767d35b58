import numpy as np
import pytest

from mfgstudy.metrics.gaussian import w2_gaussians
from mfgstudy.metrics.w2 import reference_chunk, w2_coupled, w2_empirical, w2_floor


def test_w2_empirical_of_a_translation_is_the_shift():
    x = np.random.default_rng(0).normal(size=(200, 2))
    assert w2_empirical(x, x) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([0.3, -0.4])
    assert w2_empirical(x, x + shift) == pytest.approx(0.5, rel=1e-9)


def test_w2_empirical_is_symmetric_and_not_the_coupled_distance():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    assert w2_empirical(x, y) == pytest.approx(w2_empirical(y, x))
    assert w2_empirical(x, y) <= w2_coupled(x, y)[0] + 1e-12  # a coupling bounds W2 from above


def test_w2_coupled_and_its_standard_error():
    x = np.zeros((400, 2))
    y = x.copy()
    y[:, 0] = 2.0
    rmse, se = w2_coupled(x, y)
    assert rmse == pytest.approx(2.0) and se == pytest.approx(0.0, abs=1e-12)


def test_floor_shrinks_with_sample_size():
    test = np.random.default_rng(2).normal(size=(4000, 2))
    small, large = w2_floor(test, 100, 5).mean(), w2_floor(test, 1000, 4).mean()
    assert small > large > 0


def test_reference_chunk_needs_enough_points():
    with pytest.raises(ValueError, match="at least n=10"):
        reference_chunk(np.zeros((5, 2)), 10, 0)
    with pytest.raises(ValueError, match="two blocks"):
        w2_floor(np.zeros((15, 2)), 10, 3)


def test_w2_between_gaussians_closed_forms():
    s = np.array([[1.0, 0.3], [0.3, 0.5]])
    assert w2_gaussians([0, 0], s, [3, 4], s) == pytest.approx(5.0)
    # 1-D: |sd1 - sd2|; diagonal: Euclidean norm of the sd differences
    assert w2_gaussians([0], [[4.0]], [0], [[1.0]]) == pytest.approx(1.0)
    assert w2_gaussians([0, 0], np.diag([4.0, 9.0]), [0, 0], np.diag([1.0, 1.0])) == pytest.approx(
        np.sqrt(1 + 4)
    )


def test_assignment_path_equals_pots_network_simplex():
    """Equal sizes go through the assignment solver; POT's emd2 is the independent reference."""
    import ot

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 2)), rng.normal(1.0, 2.0, size=(300, 2))
    a = np.full(300, 1 / 300)
    want = np.sqrt(ot.emd2(a, a, ot.dist(x, y)))
    assert w2_empirical(x, y) == pytest.approx(want, rel=1e-9)
    z = rng.normal(size=(200, 2))  # unequal sizes: POT's path
    b = np.full(200, 1 / 200)
    assert w2_empirical(x, z) == pytest.approx(np.sqrt(ot.emd2(a, b, ot.dist(x, z))), rel=1e-9)
