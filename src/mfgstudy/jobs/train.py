"""The train job (``python -m mfgstudy train``): one model per (dataset, method, seed), its EMA
weights and loss log; the loop is ``mfgstudy.training``'s.

The model (``model.pt``) records what it was trained for: the train spec (``spec``), the seed and
the data store's ``config_hash`` (``data``); ``mfgstudy.models.load_net`` compares them with
the job that loads it (``check_model``) and refuses another job's model.

On a CPU the job flushes subnormal floats (below ~1.2e-38 in float32) to zero: as a network's
pre-activations grow, GELU's Gaussian factor exp(-a^2 / 2) underflows into them, and x86 handles
each operation on a subnormal about a hundred times slower (HJB-SGM at the MFG laboratory's
sizing fell from ~90 to ~20 batches/s over training without it). No number above 1e-38 changes.
"""

from __future__ import annotations

import logging
import time

import torch

from mfgstudy.specs import computational
from mfgstudy.training.checkpoint import Checkpointer
from mfgstudy.training.distributed import Runtime
from mfgstudy.training.fit import fit
from mfgstudy.training.shared import to_cpu

log = logging.getLogger(__name__)


def train_job(
    spec: dict,
    seed: int,
    data_path: str,
    out_model: str,
    out_log: str,
    checkpoint_dir: str | None = None,
    checkpoint_every: int | None = None,
    walltime_min: float | None = None,
    stop_margin_min: float | None = None,
) -> None:
    """The train job: one model per (dataset, method, seed), EMA weights and the loss log.

    ``checkpoint_dir``: where the resumable checkpoint lives (not a Snakemake output, so a rerun
    finds it); ``checkpoint_every``: steps between checkpoints (MFG-Diffusion: outer
    iterations; default 1000 steps, 1 outer iteration); ``walltime_min``: the job's walltime
    (the rule's ``runtime``), before which the trainer stops ``stop_margin_min`` early (default
    10% of the walltime, at most 5 minutes), writing a checkpoint and exiting with
    ``EXIT_WALLTIME``. Under torchrun (WORLD_SIZE > 1) every rank runs this and rank 0 writes."""
    from mfgstudy.code_closure import code_hash
    from mfgstudy.core.sde import VPSDE
    from mfgstudy.data import load_data
    from mfgstudy.device import current
    from mfgstudy.methods.registry import build_method
    from mfgstudy.nets import count_parameters, is_conditional
    from mfgstudy.store import canonical_json, open_store, save_torch, write_store

    t0 = time.time()
    if checkpoint_dir is None and (walltime_min is not None or checkpoint_every is not None):
        raise ValueError("--walltime-min and --checkpoint-every need --checkpoint-dir")
    run = Runtime.start(current())
    flush = run.device.type == "cpu"  # module docstring: subnormals cost ~100x per operation
    torch.set_flush_denormal(flush)
    try:
        if not run.main:
            logging.getLogger("mfgstudy").setLevel(logging.WARNING)  # one rank writes the log
        if checkpoint_dir is not None:
            walltime_s = None if walltime_min is None else 60.0 * float(walltime_min)
            if stop_margin_min is None:
                margin_s = 0.0 if walltime_s is None else min(300.0, 0.1 * walltime_s)
            else:
                margin_s = 60.0 * float(stop_margin_min)
            resumable = {**spec, "train": computational(spec["train"])}
            key = {"spec": canonical_json(resumable), "seed": int(seed),
                   "code": code_hash("train"), "world_size": run.world}  # fmt: skip
            run.ckpt = Checkpointer(
                checkpoint_dir, key, checkpoint_every, walltime_s, margin_s, t0, run.main
            )
        data = load_data(open_store(data_path))
        method = build_method(spec["method"], VPSDE.from_spec(spec["sde"]))
        torch.manual_seed(seed)
        net = method.build_net(data.kind, data.event_shape)
        n_params = count_parameters(net)
        log.info("training %s on %s: %d parameters", spec["method"]["kind"], data_path, n_params)
        labels = data.labels if is_conditional(net) else None
        if is_conditional(net) and labels is None:
            raise ValueError(f"a class-conditional network needs a labelled data set: {data_path}")
        ema, tlog, extra = fit(
            method, net, data.train, spec["train"], seed, data.kind, labels=labels, run=run,
            law=data.law if data.kind == "points" else None,
        )  # fmt: skip
        if run.main:
            checkpoint = {
                "state_dict": to_cpu(ema.state_dict()),
                "extra": to_cpu(extra),
                "spec": canonical_json(spec),  # what it was trained for: check_model
                "seed": int(seed),
                "data": data.ds.attrs.get("config_hash"),  # the data store's identity
                "event_shape": list(data.event_shape),
            }
            save_torch(checkpoint, out_model)
            tlog.attrs["n_parameters"] = n_params
            write_store(tlog, out_log, spec, seed, t0)
            if run.ckpt is not None:
                run.ckpt.finish(outputs=(out_model, out_log))
    finally:
        torch.set_flush_denormal(False)  # torch's default: a caller in the same process keeps it
        run.close()
