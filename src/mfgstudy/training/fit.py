"""Which loop trains a method: the shared loop on its loss, or a loop of its own.

A method with its own loop names it (``Method.loop = "algorithm1"``: the module
``mfgstudy.training.algorithm1``, whose ``fit`` has this module's signature). It is imported by
that name, so a job imports (and its code hash covers: ``mfgstudy.code_closure.spec_modules``)
only the loop its method trains with.
"""

from __future__ import annotations

from importlib import import_module


def fit(
    method, net, x_train, spec: dict, seed: int, data_kind: str, labels=None, run=None, law=None
):
    """Train ``net`` for ``method``; return (EMA net, log Dataset, extra state dicts for the
    model file). A method trains in the shared loop on its loss, unless it names a loop of its
    own (``Method.loop``: MFG-Diffusion's ``"algorithm1"``). ``labels`` (aligned with ``x_train``)
    for a class-conditional net, else None; ``run`` (``distributed.Runtime``): device, rank,
    checkpointing (None: the job's device, one process, no checkpoints); ``law``: the data law
    where it is known in closed form, for diagnostics only, never for training."""
    if method.loop != "shared":
        own = import_module(f"mfgstudy.training.{method.loop}").fit
        return own(method, net, x_train, spec, seed, data_kind, labels, run, law)
    from mfgstudy.training.loop import train

    ema, log = train(method, net, x_train, spec, seed, labels=labels, run=run)
    return ema, log, {}
