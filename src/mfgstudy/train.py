"""Training loop shared by every trainable method: Adam, gradient clipping, EMA weights,
a loss log, progress, and a hard stop on a non-finite loss (naming the step and the term)."""

from __future__ import annotations

import copy
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr
from tqdm import tqdm

if TYPE_CHECKING:
    from mfgstudy.methods.base import Method

log = logging.getLogger(__name__)


def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
            pe.lerp_(p, 1.0 - decay)
        for be, b in zip(ema.buffers(), net.buffers(), strict=True):
            be.copy_(b)


def train(method: Method, net: torch.nn.Module, x_train: torch.Tensor, spec: dict, seed: int):
    """Train ``net`` with ``method``'s loss; return (EMA net, log Dataset)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    steps, bs = int(spec["steps"]), int(spec["batch_size"])
    opt = torch.optim.Adam(net.parameters(), lr=float(spec["lr"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / max(1, int(spec.get("warmup", 0)) or 1))
    )
    ema = copy.deepcopy(net).eval()
    decay, clip, every = (
        float(spec["ema"]),
        float(spec.get("grad_clip", 1.0)),
        int(spec["log_every"]),
    )
    rows, window, t0 = [], [], time.time()
    pbar = tqdm(range(1, steps + 1), desc="train", mininterval=10.0)
    for step in pbar:
        idx = torch.randint(len(x_train), (bs,), generator=gen)
        loss, terms = method.loss(net, x_train[idx], gen)
        if not torch.isfinite(loss):
            bad = {k: v for k, v in terms.items() if not np.isfinite(v)} or terms
            raise FloatingPointError(f"non-finite loss at step {step}: {bad}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        sched.step()
        ema_update(ema, net, decay)
        window.append({"loss": float(loss.detach()), **terms})
        if step % every == 0 or step == steps:
            row = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
            rows.append({"step": step, "wall_s": time.time() - t0, **row})
            pbar.set_postfix(loss=f"{row['loss']:.4f}")
            window = []
    steps_per_s = steps / max(time.time() - t0, 1e-9)
    log.info("trained %d steps at %.1f steps/s", steps, steps_per_s)
    ds = xr.Dataset(
        {k: (("step",), np.array([r[k] for r in rows])) for k in rows[0] if k != "step"},
        coords={"step": np.array([r["step"] for r in rows])},
        attrs={"steps_per_s": steps_per_s},
    )
    return ema, ds


def train_job(spec: dict, seed: int, data_path: str, out_model: str, out_log: str) -> None:
    """The train job: one model per (dataset, method, seed), EMA weights and the loss log."""
    from mfgstudy.data import load_data
    from mfgstudy.methods import build_method
    from mfgstudy.nets import count_parameters
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import canonical_json, open_store, save_torch, write_store

    t0 = time.time()
    data = load_data(open_store(data_path))
    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    torch.manual_seed(seed)
    net = method.build_net(data.kind, data.event_shape)
    n_params = count_parameters(net)
    log.info("training %s on %s: %d parameters", spec["method"]["kind"], data_path, n_params)
    ema, tlog, extra = method.fit(net, data.train, spec["train"], seed, data.kind)
    checkpoint = {
        "state_dict": ema.state_dict(),
        "extra": extra,
        "spec": canonical_json(spec),
        "event_shape": list(data.event_shape),
    }
    save_torch(checkpoint, out_model)
    tlog.attrs["n_parameters"] = n_params
    write_store(tlog, out_log, spec, seed, t0)
