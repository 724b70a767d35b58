"""Training loop shared by every trainable method: Adam, gradient clipping, EMA weights,
a loss log, progress, and a hard stop on a non-finite loss (naming the step and the term).

Class-conditional networks (``mfgstudy.nets.is_conditional``) train on labels aligned with the
rows of ``x_train``: each batch's labels, after classifier-free label dropout (probability
``label_dropout`` of the training spec, default 0, of replacing a label by the null class), are
bound to the network (``mfgstudy.nets.Conditioned``) for ``method.loss``. Every method's loss
feeds the network its batch rows in order (DDPM, EDM, HJB-SGM; Flow Matching's minibatch OT
permutes the noise z, never x0), so row i of the network input is data row i and has its label.
"""

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


def drop_labels(y: torch.Tensor, p: float, null_label: int, gen: torch.Generator) -> torch.Tensor:
    """Classifier-free label dropout: each label becomes ``null_label`` with probability p."""
    if p <= 0:
        return y
    drop = torch.rand(y.shape, generator=gen) < p
    return torch.where(drop, torch.full_like(y, null_label), y)


def dropout_rate(spec: dict, labels) -> float:
    """The training spec's ``label_dropout`` (default 0), which must lie in [0, 1]; a warning
    where a conditional net would never see its null class (its unconditional use untrained)."""
    p = float(spec.get("label_dropout", 0.0))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"label_dropout must lie in [0, 1], got {p}")
    if labels is not None and p == 0.0:
        log.warning("label_dropout = 0: the null class is never trained (unconditional sampling)")
    return p


def check_labels(net: torch.nn.Module, x_train: torch.Tensor, labels) -> torch.Tensor | None:
    """Labels as a long tensor aligned with ``x_train``, or None for an unconditional net;
    a conditional net needs them and an unconditional one refuses them."""
    from mfgstudy.nets import is_conditional

    if not is_conditional(net):
        if labels is not None:
            raise ValueError("labels were given but the network is unconditional (n_classes = 0)")
        return None
    if labels is None:
        raise ValueError("the network is class-conditional (n_classes > 0): labels are needed")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.shape != (len(x_train),):
        raise ValueError(f"labels {tuple(labels.shape)} do not match {len(x_train)} rows")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= net.n_classes):
        raise ValueError(f"labels must lie in [0, {net.n_classes}) (n_classes of the network)")
    return labels


def train(
    method: Method,
    net: torch.nn.Module,
    x_train: torch.Tensor,
    spec: dict,
    seed: int,
    labels: torch.Tensor | None = None,
):
    """Train ``net`` with ``method``'s loss; return (EMA net, log Dataset). ``labels`` (aligned
    with ``x_train``) are required by a class-conditional net and refused by any other."""
    from mfgstudy.nets import Conditioned

    labels = check_labels(net, x_train, labels)
    p_drop = dropout_rate(spec, labels)
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
        if labels is None:
            loss, terms = method.loss(net, x_train[idx], gen)
        else:
            y = drop_labels(labels[idx], p_drop, net.null_label, gen)
            loss, terms = method.loss(Conditioned(net, y=y), x_train[idx], gen)
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
    from mfgstudy.nets import count_parameters, is_conditional
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import canonical_json, open_store, save_torch, write_store

    t0 = time.time()
    data = load_data(open_store(data_path))
    method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
    torch.manual_seed(seed)
    net = method.build_net(data.kind, data.event_shape)
    n_params = count_parameters(net)
    log.info("training %s on %s: %d parameters", spec["method"]["kind"], data_path, n_params)
    labels = data.labels if is_conditional(net) else None
    if is_conditional(net) and labels is None:
        raise ValueError(f"a class-conditional network needs a labelled data set: {data_path}")
    ema, tlog, extra = method.fit(net, data.train, spec["train"], seed, data.kind, labels=labels)
    checkpoint = {
        "state_dict": ema.state_dict(),
        "extra": extra,
        "spec": canonical_json(spec),
        "event_shape": list(data.event_shape),
    }
    save_torch(checkpoint, out_model)
    tlog.attrs["n_parameters"] = n_params
    write_store(tlog, out_log, spec, seed, t0)
