"""Score perturbations of size eps, applied inside every sampler (paper eq. 32, Theorem 4).

The sampler sees s(x, t) + delta instead of s(x, t), with |delta|_2 <= eps at every evaluation:
the Euclidean norm of the perturbation vector, bounded uniformly in (x, s, t) (the sup-norm of
the paper's Theorem 4 and Corollary 5). Kinds (config ``perturbations:``):

* ``none``: the unperturbed sampler (eps is ignored).
* ``constant``: delta = eps v, one fixed unit direction v (seeded by the kind's ``seed``).
* ``state``: a smooth state-dependent field delta(x, t) = eps sin(A x + b t + c) / sqrt(d), with
  A ~ ``frequency`` N(0, 1/d), b, c seeded; |delta| <= eps (attained only where every sine is 1).
* ``state_score``: Theorem 4's general case delta(x, s, t) = ``sign`` eps s / sqrt(1 + |s|^2):
  along the score (sign +1) or against it (sign -1, the default), |delta| < eps.
* ``adversarial`` (``mfgstudy.core.adversarial``, above the samplers it ascends through): the
  delta in the eps-ball that most increases the squared distance between the
  perturbed and the unperturbed output of each sample (same x_T and noise). Two ascents:
  ``pgd``: projected gradient ascent through the whole sampler over one delta per (grid time,
  sample), started at the constant direction, keeping each sample's best iterate (so it does at
  least the constant perturbation's damage by construction); ``greedy``: per-step steepest
  ascent, each step's delta the normalised gradient of that step's squared displacement (one
  backward pass through one step; cheap enough for images). Both are perturbations delta(x, t):
  one value per sample and time, i.e. per point of each sampled path.

Directions are properties of the perturbation, not of the sample seed: every model and seed
sees the same constant and state fields. They are drawn on the CPU in float64 and used in the
dtype and on the device of the samples (converted once per dtype and device), so a field is the
same on every device up to floating point.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mfgstudy.core.sde import ScoreFn

KINDS = ("none", "constant", "state", "state_score", "adversarial")


def flat_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-sample Euclidean norm, shaped to broadcast against v."""
    return v.flatten(1).norm(dim=1).reshape((-1,) + (1,) * (v.dim() - 1))


def project(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """Each sample's delta (rows of ``delta``) scaled into the Euclidean ball of radius eps."""
    norm = flat_norm(delta)
    return delta * torch.clamp(eps / norm.clamp_min(1e-30), max=1.0)


def unit_direction(event_shape: tuple[int, ...], seed: int, dtype=torch.float64) -> torch.Tensor:
    v = np.random.default_rng([int(seed), 7]).standard_normal(int(np.prod(event_shape)))
    return torch.from_numpy(v / np.linalg.norm(v)).to(dtype).reshape(event_shape)


class Perturbation:
    """A perturbation kind at size eps, for samples of ``event_shape``."""

    def __init__(self, spec: dict, eps: float, event_shape: tuple[int, ...]):
        kind = spec["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown perturbation kind {kind!r}; choose from {KINDS}")
        if eps < 0 or not math.isfinite(eps):
            raise ValueError(f"perturbation size eps must be finite and >= 0, got {eps}")
        self.spec, self.kind, self.eps = spec, kind, float(eps)
        self.event_shape = tuple(event_shape)
        self.d = int(np.prod(event_shape))
        seed = int(spec.get("seed", 0))
        self.v = unit_direction(self.event_shape, seed)
        self._moved: dict = {}  # (field name, dtype, device) -> the field there
        if kind == "state":
            rng = np.random.default_rng([seed, 11])
            freq = float(spec.get("frequency", 1.0))
            self.A = torch.from_numpy(
                freq * rng.standard_normal((self.d, self.d)) / np.sqrt(self.d)
            )
            self.b = torch.from_numpy(freq * rng.standard_normal(self.d))
            self.c = torch.from_numpy(rng.uniform(0, 2 * np.pi, self.d))

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.eps > 0

    def _like(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """The field tensor ``name`` (v, A, b, c) in ``x``'s dtype and on its device."""
        key = (name, x.dtype, x.device)
        if key not in self._moved:
            self._moved[key] = getattr(self, name).to(x)
        return self._moved[key]

    # --- fields ---------------------------------------------------------------------------
    def delta(self, x: torch.Tensor, s: torch.Tensor, t: float) -> torch.Tensor:
        """delta(x, s, t) of the non-adversarial kinds, shaped like x, |delta| <= eps."""
        if self.kind == "constant":
            return (self.eps * self._like("v", x)).expand_as(x)
        if self.kind == "state":
            phase = x.flatten(1) @ self._like("A", x).T + t * self._like("b", x)
            field = torch.sin(phase + self._like("c", x)) / math.sqrt(self.d)
            return self.eps * field.reshape(x.shape)
        if self.kind == "state_score":
            sign = float(self.spec.get("sign", -1.0))
            return sign * self.eps * s / torch.sqrt(1.0 + flat_norm(s) ** 2)
        raise ValueError(f"{self.kind!r} has no closed-form field")  # pragma: no cover

    def wrap(self, score: ScoreFn) -> ScoreFn:
        """The perturbed score s + delta (the score itself when inactive)."""
        if not self.active:
            return score

        def perturbed(x: torch.Tensor, t: float) -> torch.Tensor:
            s = score(x, t)
            return s + self.delta(x, s, t)

        return perturbed

    # --- per batch --------------------------------------------------------------------------
    def for_batch(self, sampler, sde, score: ScoreFn, grid: np.ndarray, x_T, z) -> ScoreFn:
        """The score the sampler uses for this batch (x_T, z): the kind's fixed field. The
        adversarial kind, which optimises a delta per (grid time, sample) through the sampler,
        is :class:`mfgstudy.core.adversarial.Adversarial` (a layer above the samplers)."""
        if not self.active:
            return score
        if self.kind == "adversarial":
            raise TypeError(
                "the adversarial perturbation ascends through the sampler: build it with "
                "mfgstudy.core.adversarial.build_perturbation"
            )
        return self.wrap(score)


def tabled(score: ScoreFn, grid: np.ndarray, table: torch.Tensor) -> ScoreFn:
    """s + table[k] at grid time grid[k] (a delta per time point and sample)."""
    index = {float(t): k for k, t in enumerate(grid)}

    def perturbed(x: torch.Tensor, t: float) -> torch.Tensor:
        k = index.get(float(t))
        if k is None:
            raise KeyError(f"adversarial perturbation has no delta at t={t} (not a grid time)")
        return score(x, t) + table[k]

    return perturbed
