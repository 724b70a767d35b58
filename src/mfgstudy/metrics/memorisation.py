"""Memorisation statistics of a sample set stopped at t_stop (PDE paper, section 4.5).

* ``tweedie_denoise``: one Tweedie step from time t to time 0 for the VP SDE
  x_t = alpha_t x_0 + sigma_t z (``mfgstudy.core.sde``): E[x_0 | x_t = x] = (x + sigma_t^2 s(x, t))
  / alpha_t, with s the score of the law of x_t. For the exact empirical score (the PDE paper's
  Prop. 4.4) it is the kernel average sum_i lambda_i(x, t) x_i of eq. (4.36), which tends to the
  nearest training point as t -> 0 (eq. 4.43).
* ``memorisation_shares``: the share of samples within delta of a training point, raw and
  after the Tweedie step with the sampler's own score; beside them the same statistics for what
  a perfect generator that does not memorise would output when stopped at t_stop: fresh draws
  of the data law diffused to t_stop (alpha x0' + sigma z), raw and denoised with the score of
  the law itself (where the law is known in closed form).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mfgstudy.metrics.support import nearest_distance

Score = Callable[[torch.Tensor, float], torch.Tensor]


def tweedie_denoise(x, score: Score, sde, t: float) -> np.ndarray:
    """E[x_0 | x_t = x] = (x + sigma_t^2 s(x, t)) / alpha_t for rows of x (float64 numpy)."""
    xt = torch.as_tensor(np.asarray(x, np.float64))
    with torch.no_grad():
        s = score(xt, float(t)).to(torch.float64)
    return ((xt + float(sde.sigma2(t)) * s) / float(sde.alpha(t))).cpu().numpy()


def diffuse(x0, sde, t: float, rng: np.random.Generator) -> np.ndarray:
    """A draw of x_t = alpha_t x_0 + sigma_t z for rows x_0 (the forward process at t)."""
    x0 = np.asarray(x0, np.float64)
    return float(sde.alpha(t)) * x0 + float(sde.sigma(t)) * rng.standard_normal(x0.shape)


def memorisation_shares(x, train, fresh, delta: float, sde, t_stop: float, score: Score | None,
                        law_score: Score | None, seed: int) -> dict:  # fmt: skip
    """The shares within ``delta`` of a row of ``train``: of the samples ``x`` after a Tweedie
    step with ``score`` (``memorised_fraction_tweedie``), of ``fresh`` draws of the law diffused
    to ``t_stop`` (``memorised_fraction_fresh``) and of those denoised with ``law_score``
    (``memorised_fraction_fresh_tweedie``). A missing score gives no value (NaN)."""
    rng = np.random.default_rng([int(seed), 4])  # the noise of the fresh draws: fixed per seed
    fresh_t = diffuse(fresh, sde, t_stop, rng)

    def share(points) -> float:
        return float((nearest_distance(points, train) <= delta).mean())

    return {
        "memorised_fraction_tweedie": (
            share(tweedie_denoise(x, score, sde, t_stop)) if score is not None else np.nan
        ),
        "memorised_fraction_fresh": share(fresh_t),
        "memorised_fraction_fresh_tweedie": (
            share(tweedie_denoise(fresh_t, law_score, sde, t_stop))
            if law_score is not None
            else np.nan
        ),
    }
