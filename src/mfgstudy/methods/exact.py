"""The exact-score oracle: no training, the closed-form score of the data law.

``score: law`` uses the exact data law (``Data.law``: the stored Gaussian mixture, or the
checkerboard's uniform law on boxes; closed form of the diffused law); ``score: empirical`` uses
the empirical measure of the training set (softmax kernel, PDE paper Prop. 4.4); ``score: auto``
takes the law where the data set has one, else the empirical measure. With this method the
measured W2 error is the sampler's discretisation error alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mfgstudy.core.exact import empirical_score
from mfgstudy.core.sde import ScoreFn
from mfgstudy.methods.base import Method

if TYPE_CHECKING:  # the data set is given; methods read no files
    from mfgstudy.data import Data


class ExactScore(Method):
    trainable = False

    def loss(self, net, x0, gen):  # pragma: no cover - never trained
        raise TypeError("the exact-score oracle is not trained")

    def resolve(self, data: Data) -> str:
        choice = self.spec.get("score", "auto")
        if choice == "auto":
            return "law" if data.law is not None else "empirical"
        if choice == "law" and data.law is None:
            raise ValueError("score: law needs a data set whose law is known in closed form")
        return choice

    def score_fn(self, data: Data) -> ScoreFn:
        sde = self.sde
        if self.resolve(data) == "law":
            law = data.law

            def score(x: torch.Tensor, t: float) -> torch.Tensor:
                return law.score(x, sde, t)

        else:
            points = data.train.to(torch.float64)

            def score(x: torch.Tensor, t: float) -> torch.Tensor:
                return empirical_score(x, points, sde, t)

        return score


METHOD = ExactScore  # this module is method kind "exact" (mfgstudy.methods.registry)
