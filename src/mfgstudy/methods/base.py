"""The interface every method implements.

A method says how to build its network for a data set, its training loss, and how its network
gives a score grad_x log p_t(x) at (x, t). Samplers only ever see the score function, so a new
method is one module here, ``mfgstudy.methods.<kind>`` with ``METHOD = <its class>``
(``mfgstudy.methods.registry``), and its entry under ``methods:`` in the config. A loss-trained
method with a net and a training budget only needs nothing else (the config schema's generic
method block admits it); a method with options of its own adds their block to the schema.

A method may bring its own sampler through the sampler registry (``mfgstudy.registry``):
``@register_sampler("<sampler kind>")`` on a :class:`~mfgstudy.core.samplers.Sampler` subclass
(or a factory of one) in the method's module. A ``samplers:`` entry of the config then names that
kind like any other; the workflow reads the kind from the module's source (no import), a job
imports the module when it builds the sampler, and the module is in that job's code hash
(``mfgstudy.code_closure.spec_modules``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from mfgstudy.core.sde import VPSDE, ScoreFn
from mfgstudy.nets import build_net


class Method(ABC):
    trainable: bool = True
    # True where the loss differentiates the network with torch.func transforms (forward mode),
    # which a DistributedDataParallel forward does not support: multi-process training then
    # averages gradients by an explicit all-reduce (mfgstudy.training).
    functional_loss: bool = False
    # the training loop (mfgstudy.training.fit): "shared", on self.loss; a method whose training
    # is not a loss on data batches names its own (MFG-Diffusion: "algorithm1")
    loop: str = "shared"

    def __init__(self, spec: dict, sde: VPSDE):
        self.spec, self.sde = spec, sde

    def build_net(self, data_kind: str, event_shape: tuple[int, ...]) -> nn.Module:
        return build_net(self.spec["net"][data_kind], event_shape)

    @abstractmethod
    def loss(
        self, net: nn.Module, x0: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]:
        """Scalar loss on a batch of data (model space) and a dict of named terms for the log
        (floats or detached 0-d tensors: a loss compiled by ``torch.compile`` keeps them
        tensors, so no ``float()`` breaks its graph)."""

    @abstractmethod
    def score_fn(self, net: nn.Module) -> ScoreFn:
        """The score the network defines, as a function of (x, t) with scalar t. It is
        differentiable in x (the adversarial perturbation ascends through the sampler), so it
        opens no ``torch.no_grad``: samplers do that where they need no gradient."""

    def sample_times(self, n: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        return self.sde.t_min + u * (self.sde.T - self.sde.t_min)

    def time_input(self, t: torch.Tensor) -> torch.Tensor:
        """What the network sees as time: t / T in [0, 1]."""
        return (t / self.sde.T).float()
