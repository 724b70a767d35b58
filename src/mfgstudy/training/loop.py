"""The training loop shared by every method trained by its loss (``Method.loss``): Adam,
gradient clipping, EMA weights, a loss log, progress, checkpoints, and a hard stop on a
non-finite loss (naming the step and the term)."""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
import xarray as xr
from tqdm import tqdm

from mfgstudy.training import shared
from mfgstudy.training.distributed import (
    Runtime,
    average_gradients,
    default_runtime,
    gather_states,
    local_batch,
    rank_seed,
    reduce_terms,
)

if TYPE_CHECKING:
    from mfgstudy.methods.base import Method

log = logging.getLogger(__name__)

DEFAULT_EVERY = 1000  # steps between checkpoints of the shared loop


def compiled_loss(method: Method):
    """``method.loss`` compiled by ``torch.compile`` (train spec ``compile: true``): the losses
    that differentiate the network by hand (HJB-SGM's jet) run many small element-wise kernels,
    which the compiler fuses (about 1.9x on the MFG laboratory's sizing, one CPU thread; a
    one-off compilation of about 30 s). The same loss to rounding; the generators are drawn
    outside the compiled graphs (graph breaks), so a seed still fixes the run."""
    log.info("compiling %s's loss with torch.compile (train.compile: true)", type(method).__name__)
    return torch.compile(method.loss)


LR_DECAYS = ("none", "cosine")


def lr_factor(spec: dict):
    """The learning rate's factor after k optimiser steps: a linear warm-up over ``warmup``
    steps, times the ``lr_decay``: ``none`` (constant, the default) or ``cosine``
    (0.5 (1 + cos(pi k / steps)): from 1 at the first step towards 0 at the last)."""
    warmup, steps = max(1, int(spec.get("warmup", 0)) or 1), int(spec["steps"])
    decay = spec.get("lr_decay", "none")
    if decay not in LR_DECAYS:
        raise ValueError(f"train.lr_decay must be one of {LR_DECAYS}, got {decay!r}")
    if decay == "none":
        return lambda k: min(1.0, (k + 1) / warmup)
    return lambda k: min(1.0, (k + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * k / steps))


def train(
    method: Method,
    net: torch.nn.Module,
    x_train: torch.Tensor,
    spec: dict,
    seed: int,
    labels: torch.Tensor | None = None,
    run: Runtime | None = None,
):
    """Train ``net`` with ``method``'s loss; return (EMA net, log Dataset). ``labels`` (aligned
    with ``x_train``) are required by a class-conditional net and refused by any other. ``run``:
    device, rank and checkpointing (default: ``mfgstudy.device.current()``, one process, no
    checkpoints). ``net`` is moved to the device in place."""
    from torch.nn.parallel import DistributedDataParallel

    from mfgstudy.nets import Conditioned

    run = run or default_runtime()
    dev = run.device
    labels = shared.check_labels(net, x_train, labels)
    p_drop = shared.dropout_rate(spec, labels)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)  # data order, label dropout: shared by all ranks
    steps, bs = int(spec["steps"]), int(spec["batch_size"])
    part = slice(run.rank * local_batch(bs, run.world), (run.rank + 1) * (bs // run.world))
    noise = gen if run.world == 1 else torch.Generator().manual_seed(rank_seed(seed, run.rank))
    net.to(dev)
    opt = shared.adam(net.parameters(), float(spec["lr"]))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(spec))
    ema = copy.deepcopy(net).eval()
    decay, clip, every = (
        float(spec["ema"]),
        float(spec.get("grad_clip", 1.0)),
        int(spec["log_every"]),
    )
    rows, window, start, wall = [], [], 0, 0.0
    state = run.ckpt.load("shared") if run.ckpt is not None else None
    if state is not None:
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        if run.world > 1:
            noise.set_state(state["noise_gens"][run.rank])
        shared.set_rng_state(state, dev)
        rows, window, start, wall = state["rows"], state["window"], state["step"], state["wall_s"]
        log.info("resuming from checkpoint %s at step %d of %d", run.ckpt.path, start, steps)
    model = net
    if run.world > 1:
        if method.functional_loss:  # gradients averaged by average_gradients
            for t in net.state_dict().values():
                dist.broadcast(t, 0)
        else:
            model = DistributedDataParallel(
                net, device_ids=[dev.index] if dev.type == "cuda" else None
            )
    loss_fn = compiled_loss(method) if spec.get("compile", False) else method.loss
    t0, unit_s = time.time() - wall, 0.0
    pbar = tqdm(
        range(start + 1, steps + 1),
        initial=start,
        total=steps,
        desc="train",
        mininterval=10.0,
        disable=not run.main,
    )
    for step in pbar:
        tic = time.time()
        idx = torch.randint(len(x_train), (bs,), generator=gen)
        y = None if labels is None else shared.drop_labels(labels[idx], p_drop, net.null_label, gen)
        if run.world > 1:
            idx, y = idx[part], None if y is None else y[part]
        x0 = x_train[idx].to(dev)
        loss, terms = loss_fn(model if y is None else Conditioned(model, y=y.to(dev)), x0, noise)
        stop = run.ckpt is not None and step < steps and run.ckpt.time_is_up(unit_s)
        terms = {"loss": loss.detach(), **terms}
        values, stop = reduce_terms(run, {k: float(v) for k, v in terms.items()}, stop)
        if not math.isfinite(values["loss"]):
            terms = {k: v for k, v in values.items() if k != "loss"}
            bad = {k: v for k, v in terms.items() if not np.isfinite(v)} or terms
            raise FloatingPointError(f"non-finite loss at step {step}: {bad}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if run.world > 1 and method.functional_loss:
            average_gradients(net, run.world)
        shared.clip_gradients(net.parameters(), clip)
        opt.step()
        sched.step()
        shared.ema_update(ema, net, decay)
        window.append(values)
        if step % every == 0 or step == steps:
            row = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
            rows.append({"step": step, "wall_s": time.time() - t0, **row})
            pbar.set_postfix(loss=f"{row['loss']:.4f}")
            window = []
        unit_s = max(unit_s, time.time() - tic)
        if run.ckpt is not None and (stop or run.ckpt.due(step, steps, DEFAULT_EVERY)):
            noise_gens = gather_states(run, noise)
            if run.main:
                state = {
                    "step": step,
                    "net": shared.to_cpu(net.state_dict()),
                    "ema": shared.to_cpu(ema.state_dict()),
                    "opt": shared.to_cpu(opt.state_dict()),
                    "sched": sched.state_dict(),
                    "gen": gen.get_state(),
                    "noise_gens": noise_gens,
                    **shared.rng_state(dev),
                    "rows": rows,
                    "window": window,
                    "wall_s": time.time() - t0,
                }
                run.ckpt.save(state, "shared")
            if stop:
                if run.world > 1:
                    dist.barrier()  # rank 0's checkpoint is on disk before any rank exits
                raise run.ckpt.stop(step)
    steps_per_s = steps / max(time.time() - t0, 1e-9)
    log.info("trained %d steps at %.1f steps/s", steps, steps_per_s)
    ds = xr.Dataset(
        {k: (("step",), np.array([r[k] for r in rows])) for k in rows[0] if k != "step"},
        coords={"step": np.array([r["step"] for r in rows])},
        attrs={"steps_per_s": steps_per_s, "world_size": run.world},
    )
    return ema, ds
