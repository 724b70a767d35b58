"""Exact W2 between the N-step and the 2N-step law of a deterministic sampler on a collinear
isotropic Gaussian mixture, without sampling noise.

Why: Theorem 2 (W2 between an N-step sampler's law and its continuous limit is O(1/N)) is tested
on a mixture with two well-separated modes through the refinement distances D(N) = W2(law_N,
law_2N). The Monte Carlo estimate (``mfgstudy.analysis.convergence.mixture_refinements``: 4e5
coupled samples, ``mfgstudy.metrics.mixture_w2``) drowns in noise near N = 1024, because what
matters there is the mass that changes mode, ~1e-5 and less. For this family of laws D(N) reduces
to one-dimensional integrals that quadrature computes to ~1e-10 relative, for N up to 16384 and
beyond (N = 8, ..., 16384, each against 2N: ~35 s on one core).

The reduction
-------------
The data law is sum_k w_k N(m_k, s^2 I) in R^d: isotropic components with ONE common std s whose
means lie on one line, m_k = p + r_k u (u a unit vector, p orthogonal to u; for the study's law
p = 0, the line passes through the origin; a line that misses it decouples just as well, only the
orthogonal map gains an offset b_N). Under the VP SDE the law at time t is
sum_k w_k N(alpha m_k, v I) with v = alpha^2 s^2 + sigma^2, and its score is

    s_t(x) = (alpha sum_k resp_k(x) m_k - x) / v,   resp_k ∝ w_k exp(-|x - alpha m_k|^2 / (2 v)).

Write x = z u + y (y orthogonal to u). |x - alpha m_k|^2 = (z - alpha r_k)^2 + |y - alpha p|^2,
and the second term is the same for every k, so the responsibilities depend on z only. Hence
the score's u-component (alpha sum_k resp_k(z) r_k - z) / v depends on z only, and its
orthogonal part (alpha p - y) / v is affine in y, the same for every component. Every
deterministic sampler of ``mfgstudy.core.samplers`` combines x and score values with scalar
coefficients, so one step maps z to a function of z alone and y to an affine function of y
alone; so does the N-step map: x_T = z u + y  ->  T_N(z) u + (A_N y + b_N), with A_N = a_N I by
isotropy. The sampler starts at x_T ~ N(0, I) (``samplers.sample_noise``), i.e. z ~ N(0, 1)
independent of y ~ N(0, I_{d-1}). The N-step law is therefore the product of the 1-D law
T_N # N(0, 1) along u and the Gaussian N(b_N, a_N^2 I) across, and for product measures under the
quadratic cost W2^2 = W2^2(along) + W2^2(across) (a product of optimal plans is optimal: the
cost separates, and each marginal cost is a lower bound of the joint one). So

    D(N)^2 = int_0^1 (F_N^{-1}(q) - F_2N^{-1}(q))^2 dq + |b_N - b_2N|^2 + (d - 1)(|a_N| - |a_2N|)^2,

and if T_N is increasing, F_N^{-1}(q) = T_N(Phi^{-1}(q)); substituting q = Phi(z),

    W2^2(along) = int (T_N(z) - T_2N(z))^2 phi(z) dz.

Nothing here is approximated but the quadrature: the maps are the package's own sampler
``step`` run in float64 on d-dimensional points z u (and probe points for the orthogonal part),
so this is exactly the sampler the study uses.

Computation
-----------
* Thresholds. For K distinct mode positions r_(1) < ... < r_(K) along u, c_N^j is the starting
  point whose final value is the midpoint (r_(j) + r_(j+1)) / 2: T_N(z) < midpoint iff z < c_N^j,
  so the mode weights of law_N are exactly Phi-differences of the c_N^j. Found by multisection
  (``points`` starting points per pass, all in one batched run of the N steps) down to a few
  ulps: half the points spread over the bracket, half on a window around the interpolated
  crossing (``_multisection``); the bracket of each N warm-started from N/2, N/4 and N/8 (the
  threshold moves by a near-geometric sequence, c_N = c + C/N + ...), widened when it does not
  bracket. Three to five passes per N.
* Quadrature. T_N and T_2N are step-like: both are nearly flat inside a mode, and T - T_2N is
  O(1/N) there; between the thresholds c_N and c_2N the two maps end in different modes and the
  integrand is ~ separation^2; near each threshold the maps are extremely steep (the transition
  of the final value through the gap between the modes takes a z-range of ~1e-9 for the study's
  law). [-Z, Z] (Z = 12: the Gaussian mass outside is 4e-33) is split at every threshold of both
  maps, and each piece is covered by composite Gauss-Legendre panels graded geometrically (ratio
  ``ratio``) towards each threshold end, from min(length, 1) down to a few ulps of the threshold;
  uniform panels of width <= 1 elsewhere. The integrand is bounded (<= (T range)^2 phi), so the
  innermost panel contributes at most ~1e-14 to W2^2.
* Accuracy check: the same integral with every panel halved. ``w2`` is the halved-panel value,
  ``quadrature_change`` = |w2(halved) - w2(panels)|. On the study's law (``order`` 6, ``ratio``
  1/4, ~2000 nodes per comparison) the change is ~1e-8 relative (3e-7 at N = 8), and the halved
  value agrees with a rule of order 10 to all of its 9 compared digits.
* Exact companions, all from thresholds (no sampling): ``mode_change_mass``, the mass that
  changes mode between N and 2N under the monotone coupling, the optimal one along u (the
  Phi-mass between c_N^j and c_2N^j; for two modes |u_N - u_2N| with u_N = Phi(c_N), the change
  of the mode weights), and ``w2_transfer``, the exact value of the
  lower bound ``mfgstudy.metrics.mixture_w2.transfer_lower_bound`` (two modes): with b = D/8,
  h = (2b)^2, W2^2 >= h max(P_N(p < -b) - P_2N(p < b), mirrored, swapped), each probability
  P(T_N(z) < level) = Phi(T_N^{-1}(level)) from a threshold of its own.

What is checked (a ValueError or RuntimeError otherwise)
---------------------------------------------------------
* refused inputs (ValueError naming the condition): a stochastic sampler (its law is not the push
  forward of x_T: no such reduction); a component covariance that is not isotropic (s_k^2 I);
  components with unequal stds (the common-std term would not cancel: the responsibilities would
  depend on |y|^2); means not on one line (``ValueError``: means not collinear); steps that are
  not positive integers.
* the decoupling, numerically, on the sampler itself: at points z u + y with y != 0 (z away from
  the thresholds) the final state's u-component equals T_N(z) and its orthogonal part equals
  A_N y + b_N, and A_N = a_N I, to 1e-8 relative (RuntimeError otherwise: the sampler is not
  rotation-equivariant, and the reduction does not apply).
* monotonicity: T_N is non-decreasing on every set of points it is evaluated at (points closer
  than 1e-12 relative are not compared: there round-off, amplified by the steep map, is visible):
  if the N-step map folds (an Euler step that overshoots), the quantile formula does not hold
  and the function raises (ValueError: use more steps).

Validation: tests/unit/test_mixture_exact.py (a one-Gaussian law against the closed form of
``mfgstudy.metrics.gaussian``, to 1e-10; Monte Carlo with 2e5 coupled samples at N = 8 vs 16;
W2 >= the transfer bound; hostile inputs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.mixtures import isotropic_score, mixture_law
from mfgstudy.core.samplers import Sampler, build_sampler
from mfgstudy.core.sde import VPSDE, grid_from_spec

__all__ = ["LineGeometry", "line_geometry", "refinement_distances"]

Z_MAX = 12.0  # the quadrature covers [-Z_MAX, Z_MAX]: N(0, 1) mass outside is 3.6e-33
_EPS = np.finfo(np.float64).eps


# ------------------------------------------------------------------------------ the geometry


@dataclass(frozen=True)
class LineGeometry:
    """A collinear isotropic mixture: means m_k = p + r_k u, common std s."""

    u: np.ndarray  # (d,) unit vector along the line
    across: np.ndarray  # (d, d - 1) orthonormal basis of the orthogonal complement of u
    foot: np.ndarray  # (d,) p, the point of the line closest to the origin (orthogonal to u)
    positions: np.ndarray  # (M,) distinct mode positions r along u, ascending
    weights: np.ndarray  # (M,) data weight of each distinct position
    std: float


def _as_law(law) -> GaussianMixture:
    if isinstance(law, dict):
        return mixture_law(law)
    if not isinstance(law, GaussianMixture):
        raise ValueError(f"law must be a GaussianMixture or a {{weights, means, std}} spec; got "
                         f"{type(law).__name__}")  # fmt: skip
    return law


def line_geometry(law) -> LineGeometry:
    """The line, the distinct mode positions and the common std of ``law``; ValueError (naming
    the condition) unless the components are isotropic, with one common std and collinear means."""
    law = _as_law(law)
    w = law.weights.detach().cpu().double().numpy()
    w = w / w.sum()
    means = law.means.detach().cpu().double().numpy()
    covs = law.covs.detach().cpu().double().numpy()
    K, d = means.shape
    if d < 1 or covs.shape != (K, d, d):
        raise ValueError(f"law: means (K, d) and covs (K, d, d) expected; got {means.shape}, "
                         f"{covs.shape}")  # fmt: skip
    eye = np.eye(d)
    s2 = np.array([np.trace(c) / d for c in covs])
    for k in range(K):
        if not (s2[k] > 0 and np.max(np.abs(covs[k] - s2[k] * eye)) <= 1e-12 * s2[k]):
            raise ValueError(
                f"component {k}'s covariance is not isotropic (s^2 I): the reduction needs "
                f"isotropic components with one common std; got {covs[k].tolist()}"
            )
    if np.max(np.abs(s2 - s2[0])) > 1e-12 * s2[0]:
        raise ValueError(
            f"the components have unequal stds {np.sqrt(s2).tolist()}: the reduction needs one "
            "common std (else the responsibilities depend on the orthogonal coordinates)"
        )
    scale = 1.0 + float(np.max(np.linalg.norm(means, axis=1)))
    diff = means - means[0]
    far = int(np.argmax(np.linalg.norm(diff, axis=1)))
    if np.linalg.norm(diff[far]) > 1e-12 * scale:
        u = diff[far] / np.linalg.norm(diff[far])
    elif np.linalg.norm(means[0]) > 1e-12 * scale:  # one position: any line through it
        u = means[0] / np.linalg.norm(means[0])
    else:
        u = eye[0]
    foot = means[0] - (means[0] @ u) * u
    r = means @ u
    off = means - foot - r[:, None] * u
    if np.max(np.linalg.norm(off, axis=1)) > 1e-10 * scale:
        raise ValueError(
            "the means are not collinear (not on one line): the reduction to one dimension needs "
            f"means m_k = p + r_k u; got {means.tolist()}"
        )
    # orthonormal complement of u: the last d - 1 columns of a complete QR of [u, I]
    q, _ = np.linalg.qr(np.column_stack([u, eye]), mode="complete")
    across = q[:, 1:d]
    # distinct positions (two components at the same mean are one mode)
    order = np.argsort(r, kind="stable")
    pos, wts = [], []
    for k in order:
        if pos and abs(r[k] - pos[-1]) <= 1e-12 * scale:
            wts[-1] += w[k]
        else:
            pos.append(float(r[k]))
            wts.append(float(w[k]))
    return LineGeometry(u=u, across=across[:, : d - 1], foot=foot, positions=np.array(pos),
                        weights=np.array(wts), std=float(np.sqrt(s2[0])))  # fmt: skip


# --------------------------------------------------------------------------- the N-step maps


class _LevelMap:
    """The N-step map of the sampler, run on d-dimensional points in float64."""

    def __init__(self, sampler, sde, score, grid_spec, n_steps, geom: LineGeometry):
        self.sampler, self.sde, self.score = sampler, sde, score
        self.grid = grid_from_spec(sde, n_steps, grid_spec)
        self.n = n_steps
        self.u = torch.from_numpy(geom.u)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        with torch.no_grad():
            for k in range(len(self.grid) - 1):
                out = self.sampler.step(
                    self.sde, self.score, out, float(self.grid[k]), float(self.grid[k + 1]), None
                )
        return out

    def along(self, z: np.ndarray, extra: torch.Tensor | None = None):
        """T_N(z) (final u-coordinate of z u), and the final states of ``extra`` points."""
        x = torch.from_numpy(np.asarray(z, np.float64))[:, None] * self.u[None, :]
        if extra is not None:
            x = torch.cat([x, extra])
        out = self.run(x)
        t = (out[: len(z)] @ self.u).numpy()
        if not np.all(np.isfinite(t)):
            raise RuntimeError(f"the {self.n}-step map is not finite at some starting points")
        _check_monotone(z, t, self.n)
        return t, (None if extra is None else out[len(z) :])


def _check_monotone(z: np.ndarray, t: np.ndarray, n: int) -> None:
    """T_N must be non-decreasing. Round-off in the N steps acts like a perturbation of z of a few
    ulps, which the steep map near a threshold amplifies into visible noise on T: only pairs of
    points more than 1e-12 (relative) apart are compared, to 1e-10 (relative); what a fold
    narrower than that could change in W2^2 is below (T range)^2 x 1e-12."""
    order = np.argsort(z, kind="stable")
    zs, ts = z[order], t[order]
    dz, dt = np.diff(zs), np.diff(ts)
    far = dz > 1e-12 * (1.0 + np.abs(zs[1:]))
    bad = np.flatnonzero(far & (dt < -1e-10 * (1.0 + np.abs(ts[1:]))))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"the {n}-step map along the line is not increasing (T({zs[i]!r}) = {ts[i]!r} > "
            f"T({zs[i + 1]!r}) = {ts[i + 1]!r}): the map folds, the quantile formula does not "
            "hold; use more steps"
        )


# ---------------------------------------------------------------------------- the thresholds


def _multisection(lmap: _LevelMap, targets: np.ndarray, guess, points: int) -> np.ndarray:
    """For each target level, c = sup{z : T_N(z) < target}, to a few ulps; c = -Z or Z when the
    target is not crossed inside [-Z, Z]. ``guess``: (lo, hi) brackets or None (cold start).

    Each pass evaluates ~``points`` starting points in one run of the N steps: per open bracket,
    half spread uniformly over it (the bracket shrinks by ~points/2 per pass whatever the map
    does) and half on a window around the linear-interpolation estimate of the crossing, as wide
    as 4x its difference from the inverse-quadratic estimate (where the map is smooth on the
    bracket's scale, the crossing is found to the window's resolution: the last passes converge
    much faster than bisection). The bracket [lo, hi] always keeps T(lo) < target <= T(hi)."""
    J = len(targets)
    if guess is None:
        lo, hi = np.full(J, -Z_MAX), np.full(J, Z_MAX)
    else:
        lo, hi = np.maximum(guess[0], -Z_MAX), np.minimum(guess[1], Z_MAX)
    verified = np.zeros(J, bool)  # T(lo) < target <= T(hi) is known
    window = [None] * J  # (a, b) around the interpolated crossing, or None
    c = np.full(J, np.nan)
    for _ in range(200):
        active = np.flatnonzero(np.isnan(c))
        if not active.size:
            return c
        brackets = sorted({(lo[j], hi[j]) for j in active})
        per = max(16, points // len(brackets))
        chunks = []
        for j in active:
            a, b = lo[j], hi[j]
            if window[j] is None:
                chunks.append(np.linspace(a, b, per + 2))
            else:
                chunks.append(np.linspace(a, b, per // 2 + 2))
                chunks.append(np.linspace(*window[j], per // 2))
        z = np.unique(np.concatenate(chunks))
        t, _ = lmap.along(z)
        for j in active:
            tg = targets[j]
            inside = (z >= lo[j]) & (z <= hi[j])
            zj, tj = z[inside], t[inside]  # zj[0] = lo, zj[-1] = hi
            window[j] = None
            if not verified[j]:
                w = hi[j] - lo[j]
                if tj[0] >= tg:  # the crossing is below the bracket
                    if lo[j] <= -Z_MAX:
                        c[j] = -Z_MAX
                    else:
                        lo[j], hi[j] = max(-Z_MAX, lo[j] - 16 * w), lo[j]
                    continue
                if tj[-1] < tg:  # the crossing is above the bracket
                    if hi[j] >= Z_MAX:
                        c[j] = Z_MAX
                    else:
                        lo[j], hi[j] = hi[j], min(Z_MAX, hi[j] + 16 * w)
                    continue
                verified[j] = True
            # T(zj[0]) < tg <= T(zj[-1]); interior points: the last below, the first at or above
            k = 1 + int(np.searchsorted(tj[1:-1], tg, side="left"))
            lo[j], hi[j] = zj[k - 1], zj[k]
            if (
                hi[j] - lo[j] <= 4 * _EPS * max(1.0, abs(lo[j]))
                or np.nextafter(lo[j], hi[j]) >= hi[j]
            ):
                c[j] = lo[j] + 0.5 * (hi[j] - lo[j])
                continue
            window[j] = _interpolation_window(zj, tj, k, tg)
    raise RuntimeError("multisection did not converge in 200 passes")


def _interpolation_window(z: np.ndarray, t: np.ndarray, k: int, tg: float):
    """A window around the linear-interpolation estimate of the crossing in [z[k-1], z[k]],
    4x as wide as its difference from the inverse-quadratic estimate; None if not useful."""
    t0, t1 = t[k - 1], t[k]
    if not (t1 > t0) or len(z) < 3:
        return None
    est = z[k - 1] + (tg - t0) / (t1 - t0) * (z[k] - z[k - 1])
    i = k - 2 if k >= 2 else k + 1
    if i >= len(z):
        return None
    ts, zs = t[[i, k - 1, k]], z[[i, k - 1, k]]
    if len(np.unique(ts)) < 3:
        return None
    quad = sum(zs[m] * np.prod([(tg - ts[q]) / (ts[m] - ts[q]) for q in range(3) if q != m])
               for m in range(3))  # fmt: skip
    err = 4.0 * abs(quad - est) + 8 * _EPS * max(1.0, abs(est))
    a, b = max(z[k - 1], est - err), min(z[k], est + err)
    if not (np.isfinite(a) and np.isfinite(b)) or b - a >= 0.25 * (z[k] - z[k - 1]):
        return None
    return (a, b)


# ----------------------------------------------------------------------------- the quadrature


def _side_offsets(length: float, dmin: float, ratio: float) -> np.ndarray:
    """Panel edges (offsets from a steep end, ascending from 0 to ``length``): geometric from
    min(length, 1) down to below ``dmin``, uniform panels of width <= 1 beyond."""
    hg = min(length, 1.0)
    offs = [0.0]
    if hg > dmin:
        k = int(math.ceil(math.log(hg / dmin) / math.log(1.0 / ratio)))
        offs += list(hg * ratio ** np.arange(k, 0, -1))
    offs.append(hg)
    if length > hg:
        n = int(math.ceil(length - hg))
        offs += list(np.linspace(hg, length, n + 1)[1:])
    offs = np.array(offs)
    offs[-1] = length
    return offs


def _piece_edges(a: float, b: float, steep_a: bool, steep_b: bool, ratio: float) -> np.ndarray:
    dmin_a = 16 * _EPS * max(1.0, abs(a))
    dmin_b = 16 * _EPS * max(1.0, abs(b))
    if steep_a and steep_b:
        m = a + 0.5 * (b - a)
        left = a + _side_offsets(m - a, dmin_a, ratio)
        right = b - _side_offsets(b - m, dmin_b, ratio)[::-1]
        left[-1], right[0] = m, m
        edges = np.concatenate([left, right[1:]])
    elif steep_b:
        edges = b - _side_offsets(b - a, dmin_b, ratio)[::-1]
        edges[0] = a
    elif steep_a:
        edges = a + _side_offsets(b - a, dmin_a, ratio)
        edges[-1] = b
    else:
        edges = np.linspace(a, b, max(1, int(math.ceil(b - a))) + 1)
    edges[0], edges[-1] = a, b
    return edges


def _rule(edges: np.ndarray, order: int, halve: bool):
    """Composite Gauss-Legendre nodes and weights on the panels ``edges`` (each split in two
    when ``halve``)."""
    if halve:
        mids = edges[:-1] + 0.5 * np.diff(edges)
        edges = np.sort(np.concatenate([edges, mids]))
    x, w = np.polynomial.legendre.leggauss(order)
    a, b = edges[:-1], edges[1:]
    keep = b > a
    a, b = a[keep], b[keep]
    half, mid = 0.5 * (b - a), a + 0.5 * (b - a)
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


@dataclass
class _Comparison:
    n: int
    pieces: list  # (a, b, changes_mode)
    nodes: dict  # "base"/"half" -> (z, w, piece index)


def _comparison(n, c_n, c_2n, order, ratio) -> _Comparison:
    cuts = np.clip(np.concatenate([c_n, c_2n]), -Z_MAX, Z_MAX)
    bps = np.unique(np.concatenate([[-Z_MAX], cuts, [Z_MAX]]))
    steep = {float(v) for v in cuts if -Z_MAX < v < Z_MAX}
    pieces, nodes = [], {"base": [], "half": []}
    for i, (a, b) in enumerate(zip(bps[:-1], bps[1:], strict=True)):
        zm = a + 0.5 * (b - a)
        changes = int(np.sum(c_n < zm)) != int(np.sum(c_2n < zm))
        pieces.append((float(a), float(b), changes))
        edges = _piece_edges(float(a), float(b), float(a) in steep, float(b) in steep, ratio)
        for key, halve in (("base", False), ("half", True)):
            z, w = _rule(edges, order, halve)
            nodes[key].append((z, w, np.full(z.size, i)))
    nodes = {k: tuple(np.concatenate(parts) for parts in zip(*v, strict=True))
             for k, v in nodes.items()}  # fmt: skip
    return _Comparison(n=n, pieces=pieces, nodes=nodes)


def _gauss_mass(a, b):
    """P(a < Z < b) for Z ~ N(0, 1), signed (negative when b < a), without cancellation."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    pos = np.minimum(a, b) > 0
    return np.where(pos, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))


# ------------------------------------------------------------------------------------ public


def refinement_distances(
    law,
    sde: VPSDE,
    sampler,
    grid_spec: dict,
    steps,
    *,
    order: int = 6,
    ratio: float = 0.25,
    points: int = 256,
) -> dict[str, np.ndarray]:
    """Exact W2(law_N, law_2N) of a deterministic sampler with the law's exact score
    (``mixtures.isotropic_score``) on ``grid_spec``, for every N in ``steps``.

    ``law``: a ``GaussianMixture`` (or a ``{weights, means, std}`` spec) of isotropic components
    with one common std and collinear means; ``sampler``: a ``Sampler`` or a sampler spec.
    Returns float64 arrays indexed like ``steps``:

    * ``w2``: D(N) = W2(law_N, law_2N) (halved-panel quadrature), ``w2_along`` (the 1-D part along
      the line of the means), ``w2_across`` (the Gaussian orthogonal part), and ``w2_along``'s
      split into ``w2_mode_change`` (the z-range where the two maps end in different modes) and
      ``w2_within`` (the rest): w2^2 = w2_mode_change^2 + w2_within^2 + w2_across^2.
    * ``quadrature_change``: |w2 - the same with the panels twice as long|.
    * ``mode_change_mass``: the mass that ends in different modes under the optimal (monotone)
      coupling along the line, P(mode of T_N(z) != mode of T_2N(z)); for two modes
      |Phi(c_N) - Phi(c_2N)| = |w_N - w_2N|, the change of the mode weights;
      ``mode_weights`` / ``mode_weights_2n`` (len(steps), M): the weights of the M distinct
      positions, ascending along ``line_geometry(law).u``.
    * ``w2_transfer``: the exact ``transfer_lower_bound`` (NaN unless M = 2).
    * ``threshold`` / ``threshold_2n``: c_N (len(steps), M - 1), the starting points along u that
      end at the midpoints; ``gain`` / ``gain_2n``: a_N (the orthogonal map y -> a_N y + b_N);
      ``decoupling_error``: the largest relative mismatch of the decoupling check; ``nodes``:
      the quadrature nodes of both rules; ``steps``.

    ``order``: Gauss-Legendre points per panel; ``ratio``: the geometric grading of the panels
    towards a threshold; ``points``: starting points per multisection pass.
    """
    law = _as_law(law)
    geom = line_geometry(law)
    if isinstance(sampler, dict):
        sampler = build_sampler(sampler)
    if not isinstance(sampler, Sampler):
        raise ValueError(f"sampler must be a Sampler or a sampler spec; got {type(sampler)}")
    if sampler.stochastic:
        raise ValueError(
            f"the sampler ({type(sampler).__name__}) is stochastic: the reduction needs a "
            "deterministic sampler, whose law is the push-forward of x_T ~ N(0, I) by its map"
        )
    steps = list(steps)
    if not steps or any(int(n) != n or n < 1 for n in steps):
        raise ValueError(f"steps must be positive integers; got {steps}")
    steps = [int(n) for n in steps]
    if not (0 < ratio < 1) or order < 2:
        raise ValueError(f"need 0 < ratio < 1 and order >= 2; got {ratio}, {order}")
    score = isotropic_score(law, sde)
    d, M = geom.u.size, geom.positions.size
    mids = 0.5 * (geom.positions[:-1] + geom.positions[1:])
    targets = list(mids)
    transfer = M == 2
    if transfer:  # transfer_lower_bound's p = (x - midpoint) . u with b = D / 8
        b_half = (geom.positions[1] - geom.positions[0]) / 8.0
        targets += [mids[0] - b_half, mids[0] + b_half]
    targets = np.array(targets)
    levels = sorted({*steps, *(2 * n for n in steps)})
    maps = {L: _LevelMap(sampler, sde, score, grid_spec, L, geom) for L in levels}
    across = torch.from_numpy(np.ascontiguousarray(geom.across.T))  # (d - 1, d) probe points

    # ---- thresholds (multisection, warm-started from the coarser levels)
    thr = {}
    for L in levels:
        guess = None  # warm start: c_L - c_{L/2} ~ rho (c_{L/2} - c_{L/4}), rho -> 1/2
        if L % 4 == 0 and L // 2 in thr and L // 4 in thr and targets.size:
            c2, c4 = thr[L // 2], thr[L // 4]
            d1 = c2 - c4
            pred, w = c2 + 0.5 * d1, np.abs(d1)
            if L % 8 == 0 and L // 8 in thr:
                d2 = c4 - thr[L // 8]
                with np.errstate(all="ignore"):
                    rho = np.clip(np.where(d2 != 0, d1 / d2, 0.5), 0.25, 0.75)
                pred = c2 + rho * d1
                w = np.minimum(w, 4 * np.abs(rho - 0.5) * np.abs(d1))
            w = np.maximum(w, 1e-13 * np.maximum(1.0, np.abs(c2)))
            guess = (pred - w, pred + w)
        thr[L] = _multisection(maps[L], targets, guess, points) if targets.size else targets

    # ---- one run per level: the quadrature nodes of every comparison it is in, the probes of
    # the orthogonal map (0 and the across basis vectors) and the decoupling check points
    comps = {n: _comparison(n, thr[n][: M - 1], thr[2 * n][: M - 1], order, ratio) for n in steps}
    rng = np.random.default_rng(0)
    y_check = rng.standard_normal((8, d - 1))
    values, dec_err, gain, offset = {}, {}, {}, {}
    for L in levels:
        parts = [(n, key) for n in steps if L in (n, 2 * n) for key in ("base", "half")]
        z = np.concatenate([comps[n].nodes[key][0] for n, key in parts])
        cand = np.linspace(-2.45, 2.55, 21)  # check points: z away from the thresholds
        far = np.min(np.abs(cand[:, None] - thr[L][None, : M - 1]), axis=1) if M > 1 else cand + 1
        zc = cand[far > 0.05][:8]
        yc = y_check[: len(zc)]
        probes = torch.cat([torch.zeros(1, d, dtype=torch.float64), across])
        checks = torch.from_numpy(zc)[:, None] * maps[L].u[None, :] + torch.from_numpy(yc) @ across
        t, out = maps[L].along(np.concatenate([z, zc, [0.0]]), torch.cat([probes, checks]))
        # the orthogonal map y -> A y + b, A = a I
        y_out = (out @ across.T).numpy()  # (d + len(zc), d - 1): orthogonal coordinates
        offset[L] = y_out[0]
        A = (y_out[1:d] - y_out[0]).T
        gain[L] = a = float(np.trace(A) / (d - 1)) if d > 1 else 1.0
        if d > 1 and np.max(np.abs(A - a * np.eye(d - 1))) > 1e-8 * (1.0 + abs(a)):
            raise RuntimeError(f"the orthogonal {L}-step map is not a multiple of the identity: "
                               f"{A.tolist()}; the reduction does not apply")  # fmt: skip
        # decoupling: z u + y ends at T(z) u + (a y + b) (the probes along u: at T(0))
        t_ref = t[z.size : z.size + len(zc) + 1]  # T(zc), T(0)
        ta = (out @ maps[L].u).numpy()
        ta_ref = np.concatenate([np.full(d, t_ref[-1]), t_ref[:-1]])
        ya_ref = offset[L][None, :] + a * yc
        err = float(np.max(np.abs(ta - ta_ref) / (1.0 + np.abs(ta_ref))))
        if len(zc) and d > 1:
            err = max(err, float(np.max(np.abs(y_out[d:] - ya_ref) / (1.0 + np.abs(ya_ref)))))
        if err > 1e-8:
            raise RuntimeError(
                f"the {L}-step map does not decouple along / across the line (relative "
                f"mismatch {err:.2e}): the sampler is not rotation-equivariant, the reduction "
                "does not apply"
            )
        dec_err[L] = err
        i0 = 0
        for n, key in parts:
            k = comps[n].nodes[key][0].size
            values[(L, n, key)] = t[i0 : i0 + k]
            i0 += k

    # ---- assemble
    S = len(steps)
    names = ("w2", "w2_along", "w2_across", "w2_mode_change", "w2_within", "quadrature_change",
             "mode_change_mass", "w2_transfer", "gain", "gain_2n", "decoupling_error",
             "nodes")  # fmt: skip
    res = {k: np.full(S, np.nan) for k in names}
    res["threshold"] = np.full((S, max(M - 1, 0)), np.nan)
    res["threshold_2n"] = np.full((S, max(M - 1, 0)), np.nan)
    res["mode_weights"] = np.full((S, M), np.nan)
    res["mode_weights_2n"] = np.full((S, M), np.nan)
    res["steps"] = np.array(steps, dtype=np.int64)
    for i, n in enumerate(steps):
        comp = comps[n]
        across2 = (
            float(np.sum((offset[n] - offset[2 * n]) ** 2))
            + (d - 1) * (abs(gain[n]) - abs(gain[2 * n])) ** 2
        )
        tot = {}
        for key in ("base", "half"):
            z, w, piece = comp.nodes[key]
            f = (values[(n, n, key)] - values[(2 * n, n, key)]) ** 2
            contrib = w * f * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
            change = np.array([p[2] for p in comp.pieces])[piece]
            tot[key] = (float(contrib[change].sum()), float(contrib[~change].sum()))
        ch, wi = tot["half"]
        res["w2_mode_change"][i], res["w2_within"][i] = math.sqrt(ch), math.sqrt(wi)
        res["w2_along"][i] = math.sqrt(ch + wi)
        res["w2_across"][i] = math.sqrt(across2)
        res["w2"][i] = math.sqrt(ch + wi + across2)
        res["quadrature_change"][i] = abs(res["w2"][i] - math.sqrt(sum(tot["base"]) + across2))
        res["gain"][i], res["gain_2n"][i] = gain[n], gain[2 * n]
        res["decoupling_error"][i] = max(dec_err[n], dec_err[2 * n])
        res["nodes"][i] = comp.nodes["half"][0].size + comp.nodes["base"][0].size
        cn, c2n = thr[n][: M - 1], thr[2 * n][: M - 1]
        res["threshold"][i], res["threshold_2n"][i] = cn, c2n
        edges_n = np.concatenate([[-np.inf], cn, [np.inf]])
        edges_2n = np.concatenate([[-np.inf], c2n, [np.inf]])
        res["mode_weights"][i] = _gauss_mass(edges_n[:-1], edges_n[1:])
        res["mode_weights_2n"][i] = _gauss_mass(edges_2n[:-1], edges_2n[1:])
        # the z-ranges where the two maps end in different modes (between c_N^j and c_2N^j)
        moved = [_gauss_mass(a, b) for a, b, changes in comp.pieces if changes]
        res["mode_change_mass"][i] = float(np.sum(moved))
        if transfer:
            lo_n, hi_n = thr[n][1], thr[n][2]  # T_N^{-1}(mid - b), T_N^{-1}(mid + b)
            lo_2, hi_2 = thr[2 * n][1], thr[2 * n][2]
            # (x: law_N, y: law_2N; P(p < level) = Phi(threshold of that level))
            # P_x(p < -b) - P_y(p < b) = Phi(lo_n) - Phi(hi_2), equal to the swapped and mirrored
            # P_y(p > b) - P_x(p > -b); P_x(p > b) - P_y(p > -b) = Phi(lo_2) - Phi(hi_n), equal
            # to the swapped P_y(p < -b) - P_x(p < b): with exact laws two of the four coincide
            terms = [float(_gauss_mass(hi_2, lo_n)), float(_gauss_mass(hi_n, lo_2))]
            h = (2.0 * b_half) ** 2
            res["w2_transfer"][i] = math.sqrt(h * max(max(terms), 0.0))
    return res
