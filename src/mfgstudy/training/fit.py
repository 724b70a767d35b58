"""Which loop trains a method: the shared loop on its loss, or a loop of its own."""

from __future__ import annotations


def fit(
    method, net, x_train, spec: dict, seed: int, data_kind: str, labels=None, run=None, law=None
):
    """Train ``net`` for ``method``; return (EMA net, log Dataset, extra state dicts for the
    model file). A method trains in the shared loop on its loss, unless it names a loop of its
    own (``Method.loop``: MFG-Diffusion's ``"algorithm1"``). ``labels`` (aligned with ``x_train``)
    for a class-conditional net, else None; ``run`` (``distributed.Runtime``): device, rank,
    checkpointing (None: the job's device, one process, no checkpoints); ``law``: the data law
    where it is known in closed form, for diagnostics only, never for training."""
    if method.loop == "algorithm1":
        from mfgstudy.training.algorithm1 import fit as algorithm1

        return algorithm1(method, net, x_train, spec, seed, data_kind, labels, run, law)
    from mfgstudy.training.loop import train

    ema, log = train(method, net, x_train, spec, seed, labels=labels, run=run)
    return ema, log, {}
