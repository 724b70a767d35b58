"""The interface every method implements.

A method says how to build its network for a data set, its training loss, and how its network
gives a score grad_x log p_t(x) at (x, t). Samplers only ever see the score function, so a new
method is one module here and one entry in ``mfgstudy.methods.METHODS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

from mfgstudy.nets import build_net
from mfgstudy.sde import VPSDE

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


class Method(ABC):
    trainable: bool = True
    # True where the loss differentiates the network with torch.func transforms (forward mode),
    # which a DistributedDataParallel forward does not support: multi-process training then
    # averages gradients by an explicit all-reduce (mfgstudy.train).
    functional_loss: bool = False

    def __init__(self, spec: dict, sde: VPSDE):
        self.spec, self.sde = spec, sde

    def build_net(self, data_kind: str, event_shape: tuple[int, ...]) -> nn.Module:
        return build_net(self.spec["net"][data_kind], event_shape)

    @abstractmethod
    def loss(
        self, net: nn.Module, x0: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss on a batch of data (model space) and a dict of named terms for the log."""

    @abstractmethod
    def score_fn(self, net: nn.Module) -> ScoreFn:
        """The score the network defines, as a function of (x, t) with scalar t. It is
        differentiable in x (the adversarial perturbation ascends through the sampler), so it
        opens no ``torch.no_grad``: samplers do that where they need no gradient."""

    def fit(
        self,
        net: nn.Module,
        x_train: torch.Tensor,
        spec: dict,
        seed: int,
        data_kind: str,
        labels: torch.Tensor | None = None,
        run=None,
        law=None,
    ):
        """Train ``net``; return (EMA net, log Dataset, extra state dicts for the checkpoint).
        ``labels`` (aligned with ``x_train``) for a class-conditional net, else None; ``run``
        (``mfgstudy.train.Runtime``): device, rank, checkpointing (None: the job's device, one
        process, no checkpoints); ``law``: the data law where it is known in closed form (its
        ``score(x, sde, t)``), for diagnostics only, never for training. The default is the
        shared loop of ``mfgstudy.train`` on ``self.loss``."""
        from mfgstudy.train import train

        ema, log = train(self, net, x_train, spec, seed, labels=labels, run=run)
        return ema, log, {}

    def sample_times(self, n: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        return self.sde.t_min + u * (self.sde.T - self.sde.t_min)

    def time_input(self, t: torch.Tensor) -> torch.Tensor:
        """What the network sees as time: t / T in [0, 1]."""
        return (t / self.sde.T).float()
