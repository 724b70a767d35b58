"""Law-level MW2 estimator between Gaussian-mixture-like laws (mfgstudy.metrics.mixture_w2)."""

import numpy as np
import pytest
from scipy import integrate, linalg, optimize, special

from mfgstudy.metrics.mixture_w2 import (
    LawW2,
    ModeSummary,
    gaussian_w2_squared,
    law_w2,
    mw2,
    summarise,
    transfer_lower_bound,
)

CENTRES = np.array([[-3.0, 0.0], [3.0, 0.0]])


def _rot(t):
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _mixtures(delta):
    """Two 2-D mixtures (weights, means, Cholesky-like factors L with cov = L L^T): same centres,
    weights (0.7, 0.3) vs (0.7 - delta, 0.3 + delta), slightly different means/covariances."""
    a = (np.array([0.7, 0.3]), CENTRES.copy(), [np.diag([0.3, 0.3]), np.diag([0.3, 0.3])])
    b = (
        np.array([0.7 - delta, 0.3 + delta]),
        CENTRES + np.array([[0.02, 0.01], [-0.01, 0.0]]),
        [_rot(0.1) @ np.diag([0.31, 0.29]), np.diag([0.3, 0.32])],
    )
    return a, b


def _exact(mix):
    w, m, L = mix
    return ModeSummary(weights=w, means=m, covs=np.array([f @ f.T for f in L]))


def _draw(mix, u, z):
    """Mode of sample i: u_i against the cumulative weights; sample = m_k + L_k z_i."""
    w, m, L = mix
    k = np.searchsorted(np.cumsum(w)[:-1], u, side="right")
    out = np.empty_like(z)
    for j in range(len(w)):
        s = k == j
        out[s] = m[j] + z[s] @ L[j].T
    return out


# ----------------------------------------------------------------------------------- test 1


def test_gaussian_w2_squared_diagonal_by_hand_and_symmetric():
    m1, m2 = np.array([1.0, -2.0]), np.array([0.5, 0.0])
    a, b = np.array([4.0, 0.25]), np.array([1.0, 0.09])
    by_hand = 0.5**2 + 2.0**2 + (2.0 - 1.0) ** 2 + (0.5 - 0.3) ** 2
    assert gaussian_w2_squared(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(by_hand, rel=1e-12)
    # identical Gaussians: 0
    assert gaussian_w2_squared(m1, np.diag(a), m1, np.diag(a)) == pytest.approx(0.0, abs=1e-12)
    # non-commuting covariances: symmetric, and equal to the sqrtm formula
    C1 = np.array([[2.0, 0.8], [0.8, 0.5]])
    C2 = _rot(0.7) @ np.diag([1.5, 0.2]) @ _rot(0.7).T
    r2 = linalg.sqrtm(C2).real
    ref = np.sum((m1 - m2) ** 2) + np.trace(C1 + C2 - 2 * linalg.sqrtm(r2 @ C1 @ r2).real)
    d12, d21 = gaussian_w2_squared(m1, C1, m2, C2), gaussian_w2_squared(m2, C2, m1, C1)
    assert d12 == pytest.approx(ref, rel=1e-10)
    assert d12 == pytest.approx(d21, rel=1e-10)
    # 1-D scalars work too
    assert gaussian_w2_squared(0.0, 4.0, 1.0, 1.0) == pytest.approx(1.0 + 1.0, rel=1e-12)


# ----------------------------------------------------------------------------------- test 2


@pytest.mark.parametrize(("delta", "n"), [(1e-2, 200_000), (1e-3, 1_000_000)])
def test_law_w2_recovers_closed_form_mw2_and_coupling_reduces_variance(delta, n):
    """n: the relative SE of the weight part is ~ 1 / (2 sqrt(n delta)); at delta = 1e-3 and
    n = 2e5 it is ~3.5%, so a "few per cent" check needs n = 1e6 there (~0.5 s)."""
    mix_a, mix_b = _mixtures(delta)
    closed, plan = mw2(_exact(mix_a), _exact(mix_b))
    assert plan[0, 1] == pytest.approx(delta, rel=1e-9)  # the mass that changes mode

    rng = np.random.default_rng(12345)
    u, z = rng.random(n), rng.standard_normal((n, 2))
    x, y = _draw(mix_a, u, z), _draw(mix_b, u, z)
    est = law_w2(x, y, CENTRES)
    assert isinstance(est, LawW2) and est.n == n and est.blocks == 20
    assert abs(est.value - closed) <= 4 * est.se
    assert abs(est.value - closed) <= 0.05 * closed
    assert est.ci_low == max(est.value - 1.96 * est.se, 0.0)
    assert est.ci_high == est.value + 1.96 * est.se
    assert est.noise_floor == est.se > 0
    assert est.value**2 == pytest.approx(est.weight_term**2 + est.within_term**2, rel=1e-12)

    # same estimator, y drawn independently of x
    rng2 = np.random.default_rng(54321)
    y_ind = _draw(mix_b, rng2.random(n), rng2.standard_normal((n, 2)))
    ind = law_w2(x, y_ind, CENTRES)
    ratio = ind.se / est.se
    # the coupled SE keeps the binomial noise of the ~n delta samples that switch mode, the
    # uncoupled one the noise of both weight vectors: ratio ~ sqrt(2 * 0.7 * 0.3 / delta), i.e.
    # ~20 at delta = 1e-3 but only ~6.5 at delta = 1e-2 (variance ratio ~42)
    if delta <= 1e-3:
        assert ratio >= 10
    else:
        assert ratio**2 >= 10


# ----------------------------------------------------------------------------------- test 3


def test_pure_weight_shift_gives_sqrt_delta_times_separation_and_decomposes():
    covs = np.array([np.diag([0.09, 0.09])] * 2)
    sep = np.linalg.norm(CENTRES[0] - CENTRES[1])
    delta = 1e-4
    a = ModeSummary(np.array([0.7, 0.3]), CENTRES.copy(), covs)
    b = ModeSummary(np.array([0.7 - delta, 0.3 + delta]), CENTRES.copy(), covs)
    value, plan = mw2(a, b)
    assert value == pytest.approx(np.sqrt(delta) * sep, rel=1e-2)
    np.testing.assert_allclose(plan, [[0.7 - delta, delta], [0.0, 0.3]], atol=1e-12)
    # equal weights: distance is the within-mode part only, no mass moves
    same, plan0 = mw2(a, a)
    assert same == pytest.approx(0.0, abs=1e-9) and plan0[0, 1] == plan0[1, 0] == 0.0

    # from coupled samples: the weight term carries the distance, the within term is noise-level
    delta, n = 1e-2, 200_000
    mix_a = (np.array([0.7, 0.3]), CENTRES.copy(), [np.diag([0.3, 0.3])] * 2)
    mix_b = (np.array([0.7 - delta, 0.3 + delta]), CENTRES.copy(), [np.diag([0.3, 0.3])] * 2)
    rng = np.random.default_rng(7)
    u, z = rng.random(n), rng.standard_normal((n, 2))
    est = law_w2(_draw(mix_a, u, z), _draw(mix_b, u, z), CENTRES)
    assert est.value**2 == pytest.approx(est.weight_term**2 + est.within_term**2, rel=1e-12)
    assert est.weight_term == pytest.approx(np.sqrt(delta) * sep, abs=4 * est.se)
    assert est.within_term < 0.05 * est.weight_term

    # within-mode change and no weight change: the weight term is exactly 0
    mix_c = (np.array([0.7, 0.3]), CENTRES + 0.05, [np.diag([0.3, 0.3])] * 2)
    est2 = law_w2(_draw(mix_a, u, z), _draw(mix_c, u, z), CENTRES)
    assert est2.weight_term == 0.0
    assert est2.within_term == pytest.approx(np.sqrt(2 * 0.05**2), rel=1e-6)


# ----------------------------------------------------------------------------------- test 4

MU_1D, SD_1D = np.array([-3.0, 3.0]), np.array([0.3, 0.3])


def _quantile_1d(w, p, shift=0.0):
    mu = MU_1D + shift
    lo, hi = mu.min() - 40 * SD_1D.max(), mu.max() + 40 * SD_1D.max()
    if p <= 0.5:

        def f(x):
            return np.dot(w, special.ndtr((x - mu) / SD_1D)) - p
    else:  # upper half through the survival function, for accuracy near p = 1

        def f(x):
            return (1.0 - p) - np.dot(w, special.ndtr((mu - x) / SD_1D))

    return optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)


def _exact_w2_1d(wa, wb, shift_b=0.0):
    """W2 between two 1-D mixtures = L2 distance of their quantile functions; the integrand has
    integrable log-type singularities at the cumulative weights, used as breakpoints."""

    def g(p):
        return (_quantile_1d(wa, p) - _quantile_1d(wb, p, shift_b)) ** 2

    edges = [0.0, *sorted({wa[0], wb[0]}), 1.0]
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total += integrate.quad(g, lo, hi, limit=500, epsabs=1e-13, epsrel=1e-10)[0]
    return float(np.sqrt(total))


def test_1d_mw2_bounds_exact_w2_and_has_its_order():
    wa = np.array([0.7, 0.3])
    # the integrator itself: a translation by s of the whole law is at W2 = s
    assert _exact_w2_1d(wa, wa, shift_b=0.1) == pytest.approx(0.1, rel=1e-6)

    delta = 1e-3
    wb = np.array([0.7 - delta, 0.3 + delta])
    exact = _exact_w2_1d(wa, wb)

    def summary(w):
        return ModeSummary(w, MU_1D[:, None], (SD_1D**2)[:, None, None])

    value, _ = mw2(summary(wa), summary(wb))
    assert value == pytest.approx(np.sqrt(delta) * 6.0, rel=1e-9)
    assert value >= exact  # MW2 is an upper bound of W2
    assert value <= 1.5 * exact  # and of the same order: the sqrt(delta) scaling is real


def test_transfer_lower_bound_sits_below_w2_and_scales_like_sqrt_delta():
    """The dual bound from the mass crossing between modes: below the exact 1-D W2 (embedded in
    2-D), about 2b sqrt(delta) with b = D / 8, and near 0 when no mass moves."""
    rng = np.random.default_rng(5)
    n = 400_000
    u, z1 = rng.uniform(size=n), rng.standard_normal(n)
    wa = np.array([0.7, 0.3])
    for delta in (1e-2, 1e-3):
        wb = np.array([0.7 - delta, 0.3 + delta])

        def draw(w):
            k = (u >= w[0]).astype(int)  # same uniform: a coupled draw
            return np.stack([MU_1D[k] + SD_1D[k] * z1, np.zeros(n)], axis=1)

        lb, se = transfer_lower_bound(draw(wa), draw(wb), np.array([[-3.0, 0], [3.0, 0]]))
        exact = _exact_w2_1d(wa, wb)
        assert lb <= exact
        assert lb == pytest.approx(2 * (6.0 / 8) * np.sqrt(delta), rel=0.1)
        assert 0 < se < 0.2 * lb
    same = np.stack([MU_1D[(u >= 0.7).astype(int)] + 0.3 * z1, np.zeros(n)], axis=1)
    lb, _ = transfer_lower_bound(same, same + 0.01, np.array([[-3.0, 0], [3.0, 0]]))
    assert lb < 0.02  # a shift within the modes moves (almost) no mass across
    with pytest.raises(ValueError, match="two modes"):
        transfer_lower_bound(same, same, np.zeros((3, 2)))


# ----------------------------------------------------------------------------------- test 5


def test_hostile_inputs_raise_clear_errors():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 0.3, (200, 2)), rng.normal(3, 0.3, (200, 2))])
    y = x + 0.01
    with pytest.raises(ValueError, match="same shape"):
        law_w2(x, y[:-1], CENTRES)
    with pytest.raises(ValueError, match=r"n >= 2 \* blocks"):
        law_w2(x[:30], y[:30], CENTRES, blocks=20)
    with pytest.raises(ValueError, match="blocks must be >= 2"):
        law_w2(x, y, CENTRES, blocks=1)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="x contains 1 NaN/inf"):
        law_w2(bad, y, CENTRES)
    bad = y.copy()
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match="y contains 1 NaN/inf"):
        law_w2(x, bad, CENTRES)
    with pytest.raises(ValueError, match="centres must have shape"):
        law_w2(x, y, CENTRES[:, :1])
    # a mode with fewer than d + 1 = 3 samples in y (only 2 points near the right centre)
    y_short = y.copy()
    y_short[200:398] = y_short[:198]
    with pytest.raises(ValueError, match="mode 1 has 2 sample"):
        law_w2(x, y_short, CENTRES)
    with pytest.raises(ValueError, match="mode 1 has 2 sample"):
        summarise(y_short, CENTRES)
    # enough in total but all in one jackknife block: deleting it empties the mode
    x_one_block = np.concatenate([rng.normal(3, 0.3, (5, 2)), rng.normal(-3, 0.3, (395, 2))])
    with pytest.raises(ValueError, match="mode 1 has 0 sample.*deleting jackknife block 0"):
        law_w2(x_one_block, x_one_block + 0.01, CENTRES)
    with pytest.raises(ValueError, match="sum to 1"):
        s = summarise(x, CENTRES)
        mw2(ModeSummary(s.weights * 2, s.means, s.covs), s)


# ----------------------------------------------------------------------------------- test 6


def test_single_mode_is_bures_distance_of_sample_moments():
    rng = np.random.default_rng(3)
    n = 4000
    z = rng.standard_normal((n, 2))
    x = z @ np.array([[1.0, 0.0], [0.6, 0.5]]).T + [1.0, -1.0]
    y = 1.1 * x @ _rot(0.3).T + [0.2, 0.1] + 0.05 * rng.standard_normal((n, 2))
    centre = np.array([[0.0, 0.0]])
    est = law_w2(x, y, centre, blocks=10)

    mx, my = x.mean(0), y.mean(0)
    Cx, Cy = np.cov(x.T, ddof=0), np.cov(y.T, ddof=0)
    ry = linalg.sqrtm(Cy).real
    bures2 = np.sum((mx - my) ** 2) + np.trace(Cx + Cy - 2 * linalg.sqrtm(ry @ Cx @ ry).real)
    assert est.value == pytest.approx(np.sqrt(bures2), rel=1e-9)
    assert est.weight_term == 0.0 and est.within_term == pytest.approx(est.value, rel=1e-12)
    assert 0 < est.se < 0.2 * est.value and est.blocks == 10
    summ = summarise(x, centre)
    np.testing.assert_allclose(summ.weights, [1.0])
    np.testing.assert_allclose(summ.means[0], mx, rtol=1e-12)
    np.testing.assert_allclose(summ.covs[0], Cx, rtol=1e-10)
