"""Theorem 4 on its own statement: the equilibrium of a perturbed cost, on a Gaussian law.

Theorem 4 (paper eqs. 29-31) perturbs the agents' running *cost*, L_delta = L + delta with
|delta| <= eps everywhere, and bounds how far the perturbed *equilibrium* moves:
sup_t W2(mu_eps,t, mu_t) <= K eps^(2/3) for a general delta(x, s, t) (30), and <= K' eps for
an input-dependent delta(x, t) (31). This module solves that object where it can be solved
accurately: a Gaussian data law under a reading of Algorithm 1 that has an equilibrium (the
derived HJB, ``mfgstudy.analysis.mfg_equilibrium``), whose unperturbed value V* is quadratic and
whose equilibrium score s* = grad log p - kappa grad V* (eq. 23, kappa = g^2 / (2 lambda(t))) is
affine. The population law mu_t is the law at t of the generative process (the reverse SDE of
eq. 32) under the equilibrium score, started from N(0, I) at T.

The perturbed HJB. Minimising L + delta + (f + g^2 s) . grad V over s and writing
s = s0 + Delta with s0 = grad log p - kappa grad V, the bracket is
lambda |Delta|^2 + delta(x, s0 + Delta, t) + H0(x, grad V) with
H0 = (f + g^2 grad log p) . grad V - g^4/(4 lambda) |grad V|^2 (the derived Hamiltonian).

* ``state``: delta(x, t) = eps sin(omega e.x + phi) does not depend on s: the optimal score keeps
  the form s0 and the value V* + W gains the source delta,
  W_t + b W_y + g^2/2 W_yy - g^2 kappa/2 W_y^2 + delta = 0, W(T) = 0, with
  b = f + g^2 grad log p - g^2 kappa grad V* (affine) and y = e.x along the eigen-direction e of
  the data covariance. Solved on a uniform grid in y (central differences) marched from T to
  t_min on a geometric time grid (Crank-Nicolson after two implicit Euler steps, the quadratic
  term explicit: it is O(eps^2)); the perturbed score is s* - kappa W_y e, not affine, so the law
  is evolved by the Fokker-Planck equation of the reverse SDE on the same grid (finite volumes,
  for the difference of the two densities, which carries the response without cancellation),
  and W2 between the two 1-D laws along e is the L2 distance of their quantile functions (the
  law across e is unchanged: the problem separates in the eigenbasis, so this is the 2-D W2).
* ``state_score``: delta(x, s, t) = eps phi(e.(s - s*(x, t)) / rho) with phi(u) = -u / sqrt(1 + u^2)
  (|delta| <= eps, smooth, a fixed width rho). With V = V* + C(t) the bracket is
  lambda Delta^2 + eps phi(Delta / rho) + H0: its minimiser Delta = d(t) e does not depend on x, so
  C(t) absorbs the minimum and V* + C solves the perturbed HJB exactly: the perturbed equilibrium
  score is s* + d(t) e, affine, and its law Gaussian with the covariance of the unperturbed one
  and a mean displaced by the solution of a linear ODE. Closed form (an ODE at tolerance 1e-12).
  d solves 2 lambda d = (eps / rho) (1 + (d / rho)^2)^(-3/2) (the bracket is convex in d > 0).
* ``state_score_worst``: the same family with the width chosen, at each (t, eps), to move the
  optimal score the most: d = sqrt(g(u*) eps / (2 lambda)) with g(u) = u (1 + u^2)^(-3/2) at its
  maximum u* = 1/sqrt(2). The theorem bounds every |delta| <= eps, so the sup over this
  admissible family bounds the theorem's sup from below; it moves the score by O(sqrt(eps)) (no
  bounded delta can do more: lambda Delta^2 <= 2 eps at the minimiser).

The response is sup over ``times`` of W2(mu_eps,t, mu_t) (and W2 at t_min). The discretisation
check of the PDE family: the same response on a grid of twice as many points; the closed forms
are exact.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import solve_banded
from scipy.optimize import brentq

from mfgstudy.analysis.mfg_equilibrium import Equilibrium

log = logging.getLogger(__name__)

FAMILIES = ("state", "state_score", "state_score_worst")
PDE_FAMILIES = ("state",)
U_WORST = 1.0 / np.sqrt(2.0)  # argmax of u (1 + u^2)^(-3/2)
G_WORST = U_WORST * (1.0 + U_WORST**2) ** -1.5


class Direction:
    """The 1-D problem along eigen-direction ``k`` of the data covariance: the marginal mean mu
    and variance w of p_t, the value's (a, b) with V*_y = a y + b, g^2 = beta, kappa, lambda."""

    def __init__(self, eq: Equilibrium, k: int):
        if not eq.exists:
            raise ValueError(f"the {eq.value_target} equilibrium does not exist (blow-up at "
                             f"t = {eq.t_blowup:.4g}): Theorem 4 has no object")  # fmt: skip
        self.eq, self.k = eq, int(k)
        self.sde = eq.sde

    def coefficients(self, t: float) -> dict:
        mu, w = self.eq.marginal(t)
        a, b = self.eq.value_coefficients(t)
        beta = float(self.sde.beta(t))
        return {"mu": mu[self.k], "w": w[self.k], "a": a[self.k], "b": b[self.k], "beta": beta,
                "kappa": self.eq.kappa(t), "lambda": self.eq.lambda_t(t)}  # fmt: skip

    def score_affine(self, t: float) -> tuple[float, float]:
        """(P, q) with s*(y, t) = P y + q along the direction."""
        c = self.coefficients(t)
        return -1.0 / c["w"] - c["kappa"] * c["a"], c["mu"] / c["w"] - c["kappa"] * c["b"]


# --- the s-dependent family: closed form --------------------------------------------------------
def optimal_shift(lam: float, eps: float, rho: float | None) -> float:
    """The minimiser d of lam d^2 + eps phi(d / rho), phi(u) = -u / sqrt(1 + u^2); ``rho`` None:
    the width that maximises d (the worst case of the family)."""
    if eps == 0:
        return 0.0
    if rho is None:
        return float(np.sqrt(G_WORST * eps / (2.0 * lam)))

    # d = rho u with u (1 + u^2)^(3/2) = c, c = eps / (2 lam rho^2): monotone in u >= 0
    c = eps / (2.0 * lam * rho**2)
    if c < 1e-6:  # the series u = c - 3/2 c^3 + ..., exact to round-off here
        return float(rho * (c - 1.5 * c**3))
    u = brentq(lambda v: v * (1.0 + v * v) ** 1.5 - c, 0.0, c, xtol=1e-300, rtol=1e-15,
               maxiter=500)  # fmt: skip
    return float(rho * u)


def shift_response(direction: Direction, shift, times: np.ndarray) -> np.ndarray:
    """|mean displacement| at each of ``times`` of the reverse SDE when the score is s* + shift(t):
    the laws are Gaussian with the same covariance, so this is their W2 (exactly)."""
    sde = direction.sde

    def rhs(t, y):  # dx/dt = F x + c for t decreasing (EM's continuous limit): F = -b/2 - b P
        P, _ = direction.score_affine(t)
        beta = float(sde.beta(t))
        return [(-0.5 * beta - beta * P) * y[0] - beta * shift(t)]

    ts = np.sort(np.asarray(times, float))[::-1]
    scale = max(abs(shift(t)) for t in ts)  # the displacement's order, for the tolerance
    sol = solve_ivp(rhs, (sde.T, float(ts[-1])), [0.0], method="Radau", t_eval=ts, rtol=1e-11,
                    atol=1e-13 * max(scale, 1e-300))  # fmt: skip
    if not sol.success:
        raise RuntimeError(f"mean-displacement ODE failed: {sol.message}")
    out = dict(zip(sol.t, np.abs(sol.y[0]), strict=True))
    return np.array([out[t] for t in times])


# --- the state family: the perturbed HJB and the Fokker-Planck equation on a grid --------------
class Grid:
    """A uniform grid in y, wide enough for the prior N(0, 1) and the data marginal, and a time
    grid from T down to t_min, geometric in t (the coefficients change on the scale of t near
    t_min, where sigma_t^2 ~ beta_min t)."""

    def __init__(self, direction: Direction, points: int, half_width: float, steps: int):
        c0 = direction.coefficients(direction.sde.t_min)
        spread = half_width * max(1.0, np.sqrt(c0["w"]))
        lo, hi = min(0.0, c0["mu"]) - spread, max(0.0, c0["mu"]) + spread
        self.y = np.linspace(lo, hi, int(points))
        self.h = float(self.y[1] - self.y[0])
        self.faces = 0.5 * (self.y[1:] + self.y[:-1])
        sde = direction.sde
        self.t = np.geomspace(sde.T, sde.t_min, int(steps) + 1)


def _solve(lower, main, upper, rhs):
    ab = np.zeros((3, len(main)))
    ab[0, 1:], ab[1], ab[2, :-1] = upper, main, lower
    return solve_banded((1, 1), ab, rhs)


def _apply(lower, main, upper, v):
    out = main * v
    out[1:] += lower * v[:-1]
    out[:-1] += upper * v[1:]
    return out


def _hjb_operator(direction: Direction, grid: Grid, t: float):
    """The linear part of the perturbed HJB in tau = T - t, b W_y + g^2/2 W_yy (central
    differences, W_y = 0 at both ends), as three diagonals, and the quadratic term's factor."""
    c = direction.coefficients(t)
    y, h, beta = grid.y, grid.h, c["beta"]
    b = -0.5 * beta * y - beta * (y - c["mu"]) / c["w"] - beta * c["kappa"] * (c["a"] * y + c["b"])
    diff = 0.5 * beta / h**2
    lower, upper = diff - b[1:] / (2 * h), diff + b[:-1] / (2 * h)
    main = np.full(len(y), -2.0 * diff)
    upper[0], lower[-1] = 2.0 * diff, 2.0 * diff  # ghost points W_-1 = W_1, W_M = W_M-2
    return (lower, main, upper), 0.5 * beta * c["kappa"]


def _fp_operator(grid: Grid, u: np.ndarray, diffusion: float):
    """d q / d tau = -(F_j+1/2 - F_j-1/2) / h with the face flux F = u avg(q) - D dq / h and no
    flux through the ends, as three diagonals (``u`` at the faces)."""
    h = grid.h
    a, g = 0.5 * u + diffusion / h, 0.5 * u - diffusion / h  # F_j+1/2 = a_j q_j + g_j q_j+1
    main = np.zeros(len(grid.y))
    main[:-1] -= a / h
    main[1:] += g / h
    return a / h, main, -g / h


def _divergence(grid: Grid, flux: np.ndarray) -> np.ndarray:
    f = np.concatenate([[0.0], flux, [0.0]])
    return -(f[1:] - f[:-1]) / grid.h


def march(direction: Direction, grid: Grid, s_pert, delta=None, record: int = 24,
          final: dict | None = None):  # fmt: skip
    """W2 between the laws of the reverse SDE under s* + s_pert and under s*, both from N(0, 1)
    at T, at ``record`` times of the grid (geometric, t_min included): the densities q0 and
    r = q_eps - q0 marched by Crank-Nicolson (two implicit Euler steps first, which damp the
    start), r carrying the response without cancellation. With ``delta`` (the state family),
    the perturbed HJB's W is marched alongside (its quadratic term explicit: it is O(eps^2)) and
    ``s_pert`` is -kappa W_y at the faces; else ``s_pert(t)`` gives it at the faces.
    Returns (times, W2); ``final``, a dict, receives the last q0, r and W (for the tests)."""
    y, h, t = grid.y, grid.h, grid.t
    m = len(y)
    q0 = np.exp(-0.5 * y**2)
    q0 /= q0.sum() * h
    r, W = np.zeros(m), np.zeros(m)
    keep = set(np.linspace(0, len(t) - 1, record + 1).round().astype(int)[1:])
    out_t, out_w2 = [], []

    def state(k, W):
        c = direction.coefficients(t[k])
        P, q = direction.score_affine(t[k])
        u0 = 0.5 * c["beta"] * grid.faces + c["beta"] * (P * grid.faces + q)
        sp = -c["kappa"] * np.diff(W) / h if delta is not None else s_pert(t[k])
        return c["beta"], u0, c["beta"] * sp

    beta, u0, sp = state(0, W)
    for k in range(len(t) - 1):
        dt, theta = t[k] - t[k + 1], 1.0 if k < 2 else 0.5  # implicit Euler, then CN
        if delta is not None:
            (lo0, mi0, up0), quad0 = _hjb_operator(direction, grid, t[k])
            (lo1, mi1, up1), quad1 = _hjb_operator(direction, grid, t[k + 1])
            Wy = np.gradient(W, h)
            src = -(quad0 if theta == 1.0 else 0.5 * (quad0 + quad1)) * Wy**2
            src += theta * delta(y, t[k + 1]) + (1 - theta) * delta(y, t[k])
            rhs = W + (1 - theta) * dt * _apply(lo0, mi0, up0, W) + dt * src
            W = _solve(-theta * dt * lo1, 1 - theta * dt * mi1, -theta * dt * up1, rhs)
        beta1, u1, sp1 = state(k + 1, W)
        ops = [(_fp_operator(grid, u0, 0.5 * beta), _fp_operator(grid, u1, 0.5 * beta1)),
               (_fp_operator(grid, u0 + sp, 0.5 * beta), _fp_operator(grid, u1 + sp1,
                                                                    0.5 * beta1))]  # fmt: skip
        avg = lambda v: 0.5 * (v[1:] + v[:-1])  # noqa: E731
        q_next = _step(ops[0], q0, 0.0, dt, theta)
        src = theta * _divergence(grid, sp1 * avg(q_next)) + (1 - theta) * _divergence(
            grid, sp * avg(q0)
        )
        r = _step(ops[1], r, src, dt, theta)
        q0, beta, u0, sp = q_next, beta1, u1, sp1
        if k + 1 in keep:
            out_t.append(t[k + 1])
            out_w2.append(quantile_w2(grid, q0, r))
    if final is not None:
        final.update(q0=q0, r=r, W=W)
    return np.array(out_t), np.array(out_w2)


def _step(ops, v, src, dt, theta):
    (lo0, mi0, up0), (lo1, mi1, up1) = ops
    rhs = v + (1 - theta) * dt * _apply(lo0, mi0, up0, v) + dt * src
    return _solve(-theta * dt * lo1, 1 - theta * dt * mi1, -theta * dt * up1, rhs)


def quantile_w2(grid: Grid, q0: np.ndarray, r: np.ndarray, n_u: int = 20000) -> float:
    """W2 between the 1-D laws with cell densities q0 and q0 + r: the L2 distance of their
    quantile functions, each the inverse of its piecewise-linear CDF at the cell edges."""
    h = grid.h
    edges = np.concatenate([grid.y - 0.5 * h, [grid.y[-1] + 0.5 * h]])
    F0 = np.concatenate([[0.0], np.cumsum(q0) * h])
    F1 = F0 + np.concatenate([[0.0], np.cumsum(r) * h])
    if np.any(np.diff(F1) < -1e-12 * F0[-1]):
        raise ValueError("the perturbed density is negative somewhere: refine the grid")
    u = (np.arange(n_u) + 0.5) / n_u * F0[-1]
    Q0 = np.interp(u, F0, edges)
    Q1 = np.interp(u, np.maximum.accumulate(F1), edges)
    return float(np.sqrt(np.mean((Q1 - Q0) ** 2) * F0[-1]))


# --- one measurement -----------------------------------------------------------------------------
def response(direction: Direction, family: dict, eps: float, grid_spec: dict,
             refine: int = 1) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(times, W2(mu_eps,t, mu_t)) for one family (``kind`` in FAMILIES) and eps; the PDE family
    on the grid of ``grid_spec`` (``points``, ``half_width``, ``steps``) refined ``refine``
    times in y and in t."""
    kind, record = family["kind"], int(grid_spec.get("record", 24))
    if kind in ("state_score", "state_score_worst"):
        rho = float(family["rho"]) if kind == "state_score" else None
        sde = direction.sde
        times = np.geomspace(sde.T, sde.t_min, record + 1)[1:]

        def shift(t):
            return optimal_shift(direction.coefficients(t)["lambda"], eps, rho)

        return times, shift_response(direction, shift, times)
    if kind != "state":
        raise ValueError(f"unknown cost perturbation kind {kind!r}; choose from {FAMILIES}")
    omega, phase = float(family["frequency"]), float(family.get("phase", 0.0))
    points = refine * (int(grid_spec["points"]) - 1) + 1
    grid = Grid(direction, points, float(grid_spec["half_width"]),
                refine * int(grid_spec["steps"]))  # fmt: skip

    def delta(y, t):
        return eps * np.sin(omega * y + phase)

    return march(direction, grid, None, delta=delta, record=record)


def measure(spec: dict, eq: Equilibrium) -> dict:
    """Every family at every eps: the response sup over t, at t_min, the time of the sup, and
    the response of the discretisation check (PDE families: the grid refined twice in y and in
    t; closed forms: the same value). ``spec``: ``eps``, ``families`` ({name: {kind, ...}}),
    ``direction`` (``largest`` or ``smallest`` variance of the data), ``grid``."""
    k = int(np.argmax(eq.var) if spec.get("direction", "largest") == "largest"
            else np.argmin(eq.var))  # fmt: skip
    direction = Direction(eq, k)
    eps = [float(e) for e in spec["eps"]]
    names = list(spec["families"])
    shape = (len(names), len(eps))
    out = {v: np.full(shape, np.nan) for v in ("w2_sup", "w2_tmin", "t_sup", "w2_sup_check")}
    for i, name in enumerate(names):
        fam = spec["families"][name]
        t0 = time.time()
        for j, e in enumerate(eps):
            times, w = response(direction, fam, e, spec["grid"])
            out["w2_sup"][i, j], out["t_sup"][i, j] = w.max(), times[int(np.argmax(w))]
            out["w2_tmin"][i, j] = w[int(np.argmin(times))]
            out["w2_sup_check"][i, j] = (
                response(direction, fam, e, spec["grid"], refine=2)[1].max()
                if fam["kind"] in PDE_FAMILIES else w.max()
            )  # fmt: skip
        log.info("%s: sup_t W2 / eps %s (%.1fs)", name,
                 np.array2string(out["w2_sup"][i] / np.array(eps), precision=4),
                 time.time() - t0)  # fmt: skip
    return {"families": names, "kinds": [spec["families"][n]["kind"] for n in names], "eps": eps,
            "direction": k, "variance": float(eq.var[k]), **out}  # fmt: skip
