"""MFG-Diffusion's Algorithm 1: the outer loop of alternating value (HJB) and score (FP)
steps over the measure estimates, with its own checkpoints in outer iterations.

The per-step mathematics (the value loss, the equilibrium score s_eq, the measure draws and
updates, the violation) is the method's (``mfgstudy.methods.mfg``); this module runs it.
"""

from __future__ import annotations

import copy
import logging
import time

import numpy as np
import torch
import xarray as xr
from torch import nn
from tqdm import tqdm

from mfgstudy.methods.mfg import MFGDiffusion, ValueNet, bind_labels, check_finite
from mfgstudy.training import shared
from mfgstudy.training.distributed import default_runtime

log = logging.getLogger(__name__)


def fit(
    method: MFGDiffusion,
    net: nn.Module,
    x_train: torch.Tensor,
    spec: dict,
    seed: int,
    data_kind: str,
    labels: torch.Tensor | None = None,
    run=None,
    law=None,
):
    """Run Algorithm 1; return (EMA score net, log Dataset, {"value_net": state dict}).
    ``labels`` (aligned with ``x_train``) for a class-conditional score net, else None;
    ``run`` (``mfgstudy.training.distributed.Runtime``): device and checkpointing, in outer
    iterations."""
    run = run or default_runtime()
    if run.world > 1:
        raise ValueError(
            "MFG-Diffusion's Algorithm 1 trains on one device here; set gpus for train to 1 "
            f"(this job runs {run.world} processes)"
        )
    dev = run.device
    labels = shared.check_labels(net, x_train, labels)
    p_drop = shared.dropout_rate(spec, labels)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(x_train.shape[1:])
    V = ValueNet(method.spec["value_net"][data_kind], shape).to(dev)
    net.to(dev)
    times = method.time_points(int(spec["time_points"]))
    K, bs, m = int(spec["outer_iters"]), int(spec["batch_size"]), int(spec["measure_size"])
    opt_v = shared.adam(V.parameters(), float(spec["lr"]))
    opt_s = shared.adam(net.parameters(), float(spec["lr"]))
    ascend_fp = method.readings["update"] == "printed"
    ema, decay = copy.deepcopy(net).eval(), float(spec["ema"])
    state = run.ckpt.load("mfg") if run.ckpt is not None else None
    if state is None:  # mu^(0)
        measures = [method.renoised(x_train, float(t), m, gen, labels, dev) for t in times]
        rows, start, wall = [], 0, 0.0
    else:
        net.load_state_dict(state["net"])
        V.load_state_dict(state["value_net"])
        ema.load_state_dict(state["ema"])
        opt_v.load_state_dict(state["opt_v"])
        opt_s.load_state_dict(state["opt_s"])
        gen.set_state(state["gen"])
        shared.set_rng_state(state, dev)
        measures = [{k: v.to(dev) for k, v in mu.items()} for mu in state["measures"]]
        rows, start, wall = state["rows"], state["outer_iter"], state["wall_s"]
        log.info("resuming from checkpoint %s at outer iteration %d of %d",
                 run.ckpt.path, start, K)  # fmt: skip
    t0, unit_s = time.time() - wall, 0.0
    outer = tqdm(range(start + 1, K + 1), initial=start, total=K,
                 desc="MFG outer iterations", mininterval=10.0)  # fmt: skip
    for k in outer:
        tic = time.time()
        lr = float(spec["lr"]) / (k if method.readings["lr_schedule"] == "inverse_k" else 1)
        for opt in (opt_v, opt_s):
            for group in opt.param_groups:
                group["lr"] = lr
        losses = {"hjb_loss": [], "fp_loss": []}
        hjb_batches = 0 if method.readings["value_target"] == "off" else int(spec["hjb_batches"])
        for i, t in enumerate(times):
            t = float(t)
            for _ in range(hjb_batches):  # lines 5-12
                x, tt, glm, _ = method.draw(measures[i], t, bs, gen, x_train, labels, dev)
                loss = method.value_loss(V, x, glm, tt)
                check_finite(loss, k, t, "hjb")
                opt_v.zero_grad(set_to_none=True)
                loss.backward()
                opt_v.step()
                losses["hjb_loss"].append(float(loss.detach()))
            for _ in range(int(spec["fp_batches"])):  # lines 13-19
                x, tt, glm, y = method.draw(measures[i], t, bs, gen, x_train, labels, dev)
                if y is not None:
                    y = shared.drop_labels(y, p_drop, net.null_label, gen)
                s = method.score_of(bind_labels(net, y), x, tt)
                target = method.s_eq(V, x, glm, tt)
                weight = method.coefficients(tt, x)["weight"]
                per = (s - target).flatten(1).square().sum(1)
                per = per + method.gamma * s.flatten(1).square().sum(1)
                loss = (weight * per).mean()
                check_finite(loss, k, t, "fp")
                opt_s.zero_grad(set_to_none=True)
                (-loss if ascend_fp else loss).backward()
                opt_s.step()
                shared.ema_update(ema, net, decay)
                losses["fp_loss"].append(float(loss.detach()))
        if method.readings["measure_update"] == "model_rollout":  # lines 21-28
            measures = method.rollout(net, times, m, shape, gen, dev)
        else:
            measures = [method.renoised(x_train, float(t), m, gen, labels, dev) for t in times]
        rows.append({"outer_iter": k, "wall_s": time.time() - t0,
                     **{n: float(np.mean(v)) if v else np.nan for n, v in losses.items()},
                     **method.violation(net, V, measures, times, bs, gen, law)})  # fmt: skip
        unit_s = max(unit_s, time.time() - tic)
        if run.ckpt is None:
            continue
        stop = k < K and run.ckpt.time_is_up(unit_s)
        if stop or run.ckpt.due(k, K, 1):
            state = {
                "outer_iter": k,
                "net": shared.to_cpu(net.state_dict()),
                "value_net": shared.to_cpu(V.state_dict()),
                "ema": shared.to_cpu(ema.state_dict()),
                "opt_v": shared.to_cpu(opt_v.state_dict()),
                "opt_s": shared.to_cpu(opt_s.state_dict()),
                "gen": gen.get_state(),
                **shared.rng_state(dev),
                "measures": shared.to_cpu(measures),
                "rows": rows,
                "wall_s": time.time() - t0,
            }
            run.ckpt.save(state, "mfg")
        if stop:
            raise run.ckpt.stop(k, "outer iteration")
    ds = xr.Dataset(
        {
            c: (("outer_iter",), np.array([r[c] for r in rows]))
            for c in rows[0]
            if c != "outer_iter"
        },
        coords={"outer_iter": [r["outer_iter"] for r in rows]},
        attrs={f"reading_{k}": v for k, v in method.readings.items()},
    )
    return ema, ds, {"value_net": V.state_dict()}
