"""Gaussian mixtures given in the config (not data sets): the laws of the law-level studies.

``mixture_law`` builds a mixture of isotropic Gaussians with one common standard deviation from
``{weights, means, std}`` (a convergence or robustness study's ``law``), and ``isotropic_score``
its exact score under the VP SDE in a few vectorised operations (the same values as
``GaussianMixture.score``, tested; these studies evaluate it on 1e4-1e5 points at every step).
"""

from __future__ import annotations

import numpy as np
import torch

from mfgstudy.core.exact import GaussianMixture


def mixture_law(spec: dict):
    """The Gaussian mixture of ``spec`` (weights, means, isotropic std) in float64."""
    w = np.asarray(spec["weights"], float)
    means = np.asarray(spec["means"], float)
    if w.ndim != 1 or means.shape != (w.size, 2) or np.any(w <= 0):
        raise ValueError(
            "law: weights must be positive, one per mode, and means a list "
            f"of 2-D points of the same length (got {w.size} weights, means of shape "
            f"{means.shape})"
        )
    covs = np.repeat((float(spec["std"]) ** 2 * np.eye(2))[None], w.size, axis=0)
    return GaussianMixture(
        torch.as_tensor(w / w.sum()), torch.as_tensor(means), torch.as_tensor(covs)
    )


def isotropic_score(law, sde):
    """The exact score of a mixture of isotropic Gaussians with one common std (as
    ``GaussianMixture.score``, in a few vectorised operations: the study's hot loop)."""
    s2 = float(law.covs[0, 0, 0])
    if not torch.allclose(
        law.covs, s2 * torch.eye(law.dim, dtype=law.covs.dtype).expand_as(law.covs)
    ):
        raise ValueError("isotropic_score needs components N(m_k, s^2 I) with one common s")
    logw, means = torch.log(law.weights / law.weights.sum()), law.means

    def score(x, t):
        a, var = float(sde.alpha(t)), float(sde.sigma2(t))
        v = a * a * s2 + var
        logits = logw - ((x[:, None, :] - a * means[None]) ** 2).sum(-1) / (2 * v)
        r = torch.softmax(logits, dim=1)
        return (a * (r @ means) - x) / v

    return score
