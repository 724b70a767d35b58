"""Theorem 4 on its own statement (mfgstudy.analysis.cost_perturbation): the perturbed cost's
equilibrium on a Gaussian law, checked against answers known in closed form: the minimiser of
the perturbed bracket, the shifted equilibrium score solving the perturbed HJB, the reverse
SDE's Gaussian law and its mean shift through the Fokker-Planck solver, the perturbed HJB
against its Feynman-Kac formula, and the exponents 1 and 1/2 of the families."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp
from scipy.optimize import minimize

from mfgstudy.analysis import cost_perturbation as cp
from mfgstudy.analysis.mfg_equilibrium import solve
from mfgstudy.core.sde import VPSDE

SDE = VPSDE(0.1, 20.0, 1.0, 1e-3)
MEAN, COV = np.array([0.5, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])


@pytest.fixture(scope="module")
def direction():
    eq = solve(SDE, MEAN, COV, "derived", "denoising", 1.0)
    return cp.Direction(eq, int(np.argmax(eq.var)))


def _phi(u):
    return -u / np.sqrt(1.0 + u * u)


@pytest.mark.parametrize("lam,eps,rho", [(1.0, 1e-3, 1.0), (1e-3, 0.1, 0.5), (2.0, 0.3, 0.05)])
def test_the_optimal_shift_minimises_the_perturbed_bracket(lam, eps, rho):
    d = cp.optimal_shift(lam, eps, rho)
    grid = np.linspace(-3 * abs(d) - 1e-9, 3 * abs(d) + 1e-9, 200001)
    brute = grid[np.argmin(lam * grid**2 + eps * _phi(grid / rho))]
    assert d == pytest.approx(brute, rel=1e-3, abs=1e-12)


def test_the_worst_width_moves_the_score_most_and_by_sqrt_eps():
    lam, eps = 0.7, 1e-4
    worst = cp.optimal_shift(lam, eps, None)
    widths = np.geomspace(1e-5, 1.0, 2001)
    assert max(cp.optimal_shift(lam, eps, r) for r in widths) == pytest.approx(worst, rel=1e-4)
    assert cp.optimal_shift(lam, 4 * eps, None) == pytest.approx(2 * worst)  # sqrt(eps)
    # no bounded delta moves the minimiser further than lam d^2 <= 2 eps allows
    assert lam * worst**2 <= 2 * eps


def test_the_shifted_score_is_the_equilibrium_of_the_perturbed_cost(direction):
    """At any (x, t), minimising lambda |s - grad log p|^2 + g^2 s . grad V* + delta(x, s, t)
    over s (2-D, numerically) gives s* + d(t) e, and the minimum moves by the same constant at
    every x: V* + C(t) solves the perturbed HJB, so s* + d e is its equilibrium score."""
    eq = direction.eq
    e = eq.basis[:, direction.k]
    t, eps, rho = 0.3, 0.05, 0.5
    lam, g2 = eq.lambda_t(t), float(SDE.beta(t))
    (P, q), (A, c), kappa = eq.true_score(t), eq.value_gradient(t), eq.kappa(t)
    d = cp.optimal_shift(lam, eps, rho)
    moves = []
    for x in (np.array([0.3, -1.2]), np.array([-2.0, 0.7])):
        p, gv = P @ x + q, A @ x + c
        s_star = p - kappa * gv

        def bracket(s, eps=eps, p=p, gv=gv, s_star=s_star):
            return lam * np.sum((s - p) ** 2) + g2 * s @ gv + eps * _phi(e @ (s - s_star) / rho)

        best = minimize(bracket, s_star, method="Nelder-Mead",
                        options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000})  # fmt: skip
        assert best.x == pytest.approx(s_star + d * e, abs=1e-6)
        moves.append(best.fun - bracket(s_star, eps=0.0))
    assert moves[0] == pytest.approx(moves[1], abs=1e-9)


def _moments(direction):
    """Mean and variance along the direction of the reverse SDE under s* from N(0, 1)."""

    def rhs(t, y):
        P, q = direction.score_affine(t)
        beta = float(SDE.beta(t))
        F = -0.5 * beta - beta * P
        return [F * y[0] - beta * q, 2 * F * y[1] - beta]

    sol = solve_ivp(rhs, (SDE.T, SDE.t_min), [0.0, 1.0], method="Radau", rtol=1e-11, atol=1e-13)
    return sol.y[:, -1]


def test_the_fokker_planck_solver_gives_the_gaussian_law_and_its_shift(direction):
    grid = cp.Grid(direction, 401, 7.0, 1000)
    eps = 1e-2

    def shift(t):
        return cp.optimal_shift(direction.coefficients(t)["lambda"], eps, 1.0)

    final = {}
    times, w2 = cp.march(direction, grid, lambda t: np.full(len(grid.faces), shift(t)),
                         final=final)  # fmt: skip
    exact = cp.shift_response(direction, shift, times)
    assert w2 == pytest.approx(exact, rel=2e-3)  # the closed form: a mean shift
    q0, y = final["q0"], grid.y
    mean = np.sum(y * q0) * grid.h
    var = np.sum((y - mean) ** 2 * q0) * grid.h
    m, v = _moments(direction)
    assert (mean, var) == pytest.approx((m, v), rel=2e-3)
    assert np.sum(final["r"]) * grid.h == pytest.approx(0.0, abs=1e-12)  # mass conserved


def test_the_perturbed_hjb_is_its_feynman_kac_formula_to_first_order(direction):
    """For small eps, W(y, t_min) = E[int_t_min^T delta(X_s, s) ds | X_t_min = y] with
    dX = b ds + sqrt(beta) dW, b affine: X_s is Gaussian, and
    E sin(w X + a) = exp(-w^2 S / 2) sin(w m + a)."""
    eps, omega, phase = 1e-6, 1.0, 0.5
    grid = cp.Grid(direction, 401, 7.0, 1000)
    final = {}
    cp.march(direction, grid, None, delta=lambda y, t: eps * np.sin(omega * y + phase),
             final=final)  # fmt: skip

    def rhs(s, z):  # m = phi y + psi, its variance S
        c = direction.coefficients(s)
        beta, kappa = c["beta"], c["kappa"]
        B = -0.5 * beta - beta / c["w"] - beta * kappa * c["a"]
        drift = beta * c["mu"] / c["w"] - beta * kappa * c["b"]
        return [B * z[0], B * z[1] + drift, 2 * B * z[2] + beta]

    sol = solve_ivp(rhs, (SDE.t_min, SDE.T), [1.0, 0.0, 0.0], method="Radau", rtol=1e-10,
                    atol=1e-12, dense_output=True)  # fmt: skip
    for y in (-1.5, 0.0, 0.8, 2.0):

        def integrand(s, y=y):
            f, g, v = sol.sol(s)
            return np.exp(-0.5 * omega**2 * v) * np.sin(omega * (f * y + g) + phase)

        fk = eps * quad(integrand, SDE.t_min, SDE.T, limit=400, epsabs=0, epsrel=1e-9)[0]
        assert np.interp(y, grid.y, final["W"]) == pytest.approx(fk, rel=2e-3)


def test_the_families_exponents(direction):
    """A fixed bounded shape answers linearly (eq. 31's exponent 1); the width that moves the
    score most answers like sqrt(eps) (below eq. 30's 2/3), exactly."""
    spec = {"eps": [1e-7, 1e-6, 1e-5],
            "families": {"state": {"kind": "state", "frequency": 1.0, "phase": 0.5},
                         "fixed": {"kind": "state_score", "rho": 1.0},
                         "worst": {"kind": "state_score_worst"}},
            "grid": {"points": 201, "half_width": 7.0, "steps": 400}}  # fmt: skip
    res = cp.measure(spec, direction.eq)
    slopes = np.diff(np.log(res["w2_sup"]), axis=1) / np.diff(np.log(res["eps"]))
    assert slopes[0] == pytest.approx([1.0, 1.0], abs=5e-3)
    assert slopes[1] == pytest.approx([1.0, 1.0], abs=5e-3)
    assert slopes[2] == pytest.approx([0.5, 0.5], abs=1e-9)
    assert res["w2_sup_check"][0] == pytest.approx(res["w2_sup"][0], rel=1e-3)  # converged grid


def test_a_reading_without_an_equilibrium_has_no_perturbed_equilibrium():
    eq = solve(SDE, MEAN, COV, "hjb_residual", "denoising", 1.0)  # the printed eq. (24)
    assert not eq.exists
    with pytest.raises(ValueError, match="does not exist"):
        cp.Direction(eq, 0)
