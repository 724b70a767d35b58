"""Training loop shared by every trainable method: Adam, gradient clipping, EMA weights,
a loss log, progress, and a hard stop on a non-finite loss (naming the step and the term).

Class-conditional networks (``mfgstudy.nets.is_conditional``) train on labels aligned with the
rows of ``x_train``: each batch's labels, after classifier-free label dropout (probability
``label_dropout`` of the training spec, default 0, of replacing a label by the null class), are
bound to the network (``mfgstudy.nets.Conditioned``) for ``method.loss``. Every method's loss
feeds the network its batch rows in order (DDPM, EDM, HJB-SGM; Flow Matching's minibatch OT
permutes the noise z, never x0), so row i of the network input is data row i and has its label.

Device. Training runs on ``Runtime.device`` (the job's ``mfgstudy.device.current()``): the
network, its EMA copy and every batch live there; the training set stays on the CPU and each
batch is moved. Random draws come from CPU generators (``gen``) and are moved to the device, so
a seed gives the same numbers on every device up to floating point. What leaves the job (model,
log, checkpoints) is on the CPU.

Checkpoints and walltime (``Checkpointer``). Given a checkpoint directory, the trainer writes
``checkpoint.pt`` there every ``every`` steps (default 1000; MFG-Diffusion's Algorithm 1 counts
outer iterations, default 1), atomically (a temporary file, fsync, ``os.replace``), loadable with
``torch.load(weights_only=True)``. It holds all that a bit-identical continuation on the CPU
needs: the step, network, EMA, optimiser and scheduler states, the CPU generators' states (the
shared ``gen`` and, under torch.distributed, every rank's noise generator), torch's global CPU
generator (network initialisation, ``diffops.divergence``'s probes, MFG's terminal draws; all
ranks draw the same there), the log rows and the current log window, and the training wall time
so far. A rerun of the same job resumes from it; a checkpoint written for another spec, seed,
training code (``plan.code_hash("train")``: what makes Snakemake rerun the job) or number of
processes, or one that does not load as a torch file (truncated, damaged), is never deleted: it is
moved aside (``checkpoint.pt.mismatch-<UTC time>``, ``checkpoint.pt.corrupt-<UTC time>`` in the
same folder), the log names where and why (the keys that differ), and the run starts fresh. An
error that may pass (an I/O error, MemoryError, an interrupt) leaves the checkpoint where it is
and fails the job, naming it. Train-spec keys that change no number (``COSMETIC_TRAIN_KEYS``: the
log cadence) are not part of the key: a checkpoint differing only there is resumed. Given a
walltime, the trainer stops once the job's elapsed time plus the margin plus its longest step
(or outer iteration) so far would pass it: it writes a checkpoint, logs "stopping before the
walltime; rerun to continue from step k" and exits with ``EXIT_WALLTIME`` (75, EX_TEMPFAIL); the
rerun continues. The job removes the checkpoint once its outputs are written and synced to disk.

The model (``model.pt``) records what it was trained for: the train spec (``spec``), the seed and
the data store's ``config_hash`` (``data``); ``mfgstudy.methods.load_net`` compares them with
the job that loads it (``check_model``) and refuses another job's model.

Several processes (torchrun sets WORLD_SIZE > 1): data parallel training, one process per device
(``cuda:LOCAL_RANK`` and NCCL on GPUs, gloo on CPUs). ``batch_size`` is the global batch; it
must divide by the number of processes. Every rank draws the same global batch (indices and label
dropout) from the shared-seed ``gen`` and takes its contiguous slice, so the global batch equals
the single-process one; the loss noise (times, z, probes) is drawn per rank from a generator
seeded by ``(seed, rank)``, so a multi-process run matches a single-process one in distribution,
not draw for draw. Gradients are averaged over ranks by DistributedDataParallel, or, for a loss
that differentiates the network with ``torch.func`` transforms (HJB-SGM: ``functional_loss``),
which a DDP forward does not support, by an explicit all-reduce after the backward pass (the
same average). The logged loss terms are the means over ranks (all-reduced every step). Only
rank 0 writes checkpoints, the model and the log.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
import xarray as xr
from tqdm import tqdm

from mfgstudy.errors import UserError

if TYPE_CHECKING:
    from mfgstudy.methods.base import Method

log = logging.getLogger(__name__)

EXIT_WALLTIME = 75  # EX_TEMPFAIL (sysexits.h): stopped before the walltime, rerun to continue
CHECKPOINT_NAME = "checkpoint.pt"
DEFAULT_EVERY = 1000  # steps between checkpoints of the shared loop


# Train-spec keys that change no number of the run (weights, optimiser, generators): only how
# often the loss log writes a row. A checkpoint or model differing from a job only in these is
# that job's: resumed (the log keeps the old cadence up to the checkpoint) and accepted. Every
# other key (steps, batch size, lr, warmup, ema, grad_clip, label_dropout, MFG's iterations and
# batches) changes the computation.
COSMETIC_TRAIN_KEYS = frozenset({"log_every"})


def computational(train_spec: dict) -> dict:
    """``train_spec`` without its cosmetic keys (``COSMETIC_TRAIN_KEYS``)."""
    return {k: v for k, v in train_spec.items() if k not in COSMETIC_TRAIN_KEYS}


def _flat(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict) and obj:
        out = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


_ABSENT = object()


def _short(v, width: int = 40) -> str:
    text = "absent" if v is _ABSENT else json.dumps(v, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def spec_differences(have, want, names=("there", "here"), limit: int = 6) -> list[str]:
    """The leaves in which two specs (nested dicts) differ, as "key: <have> <names[0]>, <want>
    <names[1]>", at most ``limit`` of them (then "and n more")."""
    have, want = _flat(have), _flat(want)
    keys = sorted(k for k in have.keys() | want.keys()
                  if have.get(k, _ABSENT) != want.get(k, _ABSENT))  # fmt: skip
    out = [f"{k or 'spec'}: {_short(have.get(k, _ABSENT))} {names[0]}, "
           f"{_short(want.get(k, _ABSENT))} {names[1]}" for k in keys[:limit]]  # fmt: skip
    if len(keys) > limit:
        out.append(f"and {len(keys) - limit} more")
    return out


class WalltimeReached(SystemExit):
    """The trainer stopped before the walltime after writing a checkpoint; the process exits
    with ``EXIT_WALLTIME`` and a rerun continues from ``step``."""

    def __init__(self, step: int, path: Path):
        super().__init__(EXIT_WALLTIME)
        self.step, self.path = step, path


class CheckpointReadError(UserError, OSError):
    """A checkpoint could not be read for a reason that may pass (the file system): it is left
    where it is and the job fails; a rerun resumes from it."""


def _utc_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _fsync(path: str | os.PathLike) -> None:
    """Flush ``path`` (a file, or a directory's files and folders) to disk."""
    p = Path(path)
    for f in [*sorted(p.rglob("*")), p] if p.is_dir() else [p]:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if f.is_dir() else 0)
        fd = os.open(f, flags)
        try:
            os.fsync(fd)
        except OSError as e:  # some file systems refuse fsync on a directory
            if not f.is_dir():
                raise
            log.debug("fsync of folder %s: %s", f, e)
        finally:
            os.close(fd)


class Checkpointer:
    """Where and when a training run checkpoints, and when it stops before its walltime.

    ``key`` identifies the run (spec without its cosmetic keys, seed, code, world size:
    ``train_job``); a checkpoint is resumed only by a run with the same key and loop
    (``"shared"`` or ``"mfg"``). ``every`` is in the loop's unit (steps, or MFG outer
    iterations; None: the loop's default). ``walltime_s`` (None: no limit) counts from
    ``started`` (the job's start); the run stops ``margin_s`` before it. ``main``: whether this
    process (rank 0) tidies the folder (moves checkpoints aside, removes a killed save's
    temporary file); the other ranks only read."""

    def __init__(
        self,
        directory: str | os.PathLike,
        key: dict,
        every: int | None = None,
        walltime_s: float | None = None,
        margin_s: float = 0.0,
        started: float | None = None,
        main: bool = True,
    ):
        if every is not None and int(every) < 1:
            raise ValueError(f"checkpoint_every must be a positive number of steps, got {every}")
        self.path = Path(directory) / CHECKPOINT_NAME
        self.key, self.every = dict(key), None if every is None else int(every)
        self.walltime_s, self.margin_s = walltime_s, float(margin_s)
        self.started = time.time() if started is None else started
        self.main = main

    def due(self, i: int, last: int, default: int) -> bool:
        """Whether to checkpoint after unit ``i`` of ``last`` (never after the last one)."""
        return i % (self.every or default) == 0 and i < last

    def time_is_up(self, unit_s: float) -> bool:
        """Whether one more unit of ``unit_s`` seconds would end inside the stop margin."""
        if self.walltime_s is None:
            return False
        return time.time() - self.started + self.margin_s + unit_s >= self.walltime_s

    def load(self, loop: str) -> dict | None:
        """The checkpoint of this run, or None: none there, or one that is not this run's
        (another run's, or not a loadable torch file), which is moved aside (never deleted),
        reported with where it went, and the run starts fresh. Any other failure to read it
        (I/O, memory) raises, naming it, and leaves it in place."""
        from mfgstudy.store import UnreadableTorchFile, load_torch

        if self.main:  # a save killed between its temporary file and the rename; never a
            for stale in self.path.parent.glob(f"{self.path.name}.tmp-*"):  # checkpoint
                stale.unlink(missing_ok=True)
        try:
            if not self.path.exists():
                return None
            state = load_torch(self.path)
        except FileNotFoundError:  # moved aside by rank 0 meanwhile
            return None
        except UnreadableTorchFile as e:
            if self.main:
                where = self._set_aside("corrupt")
                log.warning("checkpoint %s cannot be loaded (it is %s): moved it aside to %s; "
                            "starting fresh", self.path, e.what, where)  # fmt: skip
            return None
        except MemoryError as e:
            raise MemoryError(
                f"out of memory reading the checkpoint {self.path}; it is left in place: rerun "
                "the job with more memory to resume from it"
            ) from e
        except OSError as e:
            raise CheckpointReadError(
                f"the checkpoint {self.path} could not be read ({type(e).__name__}: {e}); it is "
                "left in place: rerun the job to resume from it once the file system answers "
                "(or move the file away to start fresh)"
            ) from e
        want = {**self.key, "loop": loop}
        have = state.get("key") if isinstance(state, dict) else None
        if have == want:
            return state
        if self.main:
            differ = sorted(k for k in want if not isinstance(have, dict) or have.get(k) != want[k])
            details = []
            if "spec" in differ and isinstance(have, dict):
                try:
                    details = spec_differences(
                        json.loads(have["spec"]),
                        json.loads(want["spec"]),
                        ("in the checkpoint", "in this run"),
                    )
                except (TypeError, ValueError):
                    pass
            where = self._set_aside("mismatch")
            log.warning(
                "checkpoint %s was written by another run (%s differ%s): not resuming; moved it "
                "aside to %s; starting fresh",
                self.path,
                ", ".join(differ),
                "".join(f"; {d}" for d in details),
                where,
            )
        return None

    def _set_aside(self, why: str) -> Path:
        """Rename the checkpoint to ``<name>.<why>-<UTC time>`` beside it (never overwriting)."""
        dest = self.path.with_name(f"{self.path.name}.{why}-{_utc_stamp()}")
        n = 1
        while dest.exists():
            dest, n = dest.with_name(f"{self.path.name}.{why}-{_utc_stamp()}-{n}"), n + 1
        os.rename(self.path, dest)
        return dest

    def save(self, state: dict, loop: str) -> None:
        """Write ``state`` atomically: a temporary sibling, fsync, then ``os.replace``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save({**state, "key": {**self.key, "loop": loop}}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def stop(self, step: int, unit: str = "step") -> WalltimeReached:
        """Log the stop before the walltime; the exception the trainer raises."""
        log.warning(
            "stopping before the walltime (%.2f of %.2f min elapsed, margin %.2f min); "
            "checkpoint at %s %d in %s; rerun to continue from %s %d",
            (time.time() - self.started) / 60,
            (self.walltime_s or 0.0) / 60,
            self.margin_s / 60,
            unit,
            step,
            self.path,
            unit,
            step,
        )
        return WalltimeReached(step, self.path)

    def finish(self, outputs=()) -> None:
        """Remove the checkpoint once the job's ``outputs`` are written, after syncing them to
        disk (a crash just after must not lose both), and its directory if empty (what was
        moved aside stays)."""
        for out in outputs:
            _fsync(out)
        self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass


@dataclass
class Runtime:
    """Where a training run executes: its device, its rank among ``world`` processes, and its
    checkpointing (None: none)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world: int = 1
    ckpt: Checkpointer | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def start(cls, device: torch.device) -> Runtime:
        """The runtime of this process: single-process, or, under torchrun (WORLD_SIZE > 1),
        one rank of a process group (NCCL on ``cuda:LOCAL_RANK`` or gloo on the CPU)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device=torch.device(device))
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(device)
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        log.info("rank %d of %d on %s (%s)", rank, world, device, dist.get_backend())
        return cls(device=device, rank=rank, world=world)

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def default_runtime() -> Runtime:
    from mfgstudy.device import current

    return Runtime(device=current())


def ema_update(ema: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
            pe.lerp_(p, 1.0 - decay)
        for be, b in zip(ema.buffers(), net.buffers(), strict=True):
            be.copy_(b)


def drop_labels(y: torch.Tensor, p: float, null_label: int, gen: torch.Generator) -> torch.Tensor:
    """Classifier-free label dropout: each label becomes ``null_label`` with probability p
    (drawn on the CPU generator ``gen``, for labels on any device)."""
    if p <= 0:
        return y
    drop = (torch.rand(y.shape, generator=gen) < p).to(y.device)
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


# --- state for checkpoints ------------------------------------------------------------------
def to_cpu(obj):
    """``obj`` (nested dicts, lists, tuples of tensors and plain values) with tensors on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def rng_state(device: torch.device) -> dict:
    """torch's global generator states (CPU, and the device's where it is a GPU)."""
    out = {"torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        out["cuda_rng"] = torch.cuda.get_rng_state(device)
    return out


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"], device)


# --- several processes ----------------------------------------------------------------------
def rank_seed(seed: int, rank: int) -> int:
    """Seed of rank ``rank``'s loss-noise generator (independent streams per rank)."""
    return int(np.random.SeedSequence([int(seed), int(rank)]).generate_state(1)[0])


def local_batch(batch_size: int, world: int) -> int:
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is the global batch and must divide by the number of "
            f"processes ({world}); choose a multiple of {world} or another number of GPUs"
        )
    return batch_size // world


def reduce_terms(run: Runtime, values: dict, stop: bool) -> tuple[dict, bool]:
    """Loss terms averaged over ranks and the stop flag or-ed over ranks (one all-reduce)."""
    if run.world == 1:
        return values, stop
    vec = torch.tensor([*values.values(), float(stop)], dtype=torch.float64, device=run.device)
    dist.all_reduce(vec)
    out = vec.cpu().tolist()
    return {k: v / run.world for k, v in zip(values, out[:-1], strict=True)}, out[-1] > 0


def average_gradients(net: torch.nn.Module, world: int) -> None:
    """Average the gradients over ranks (what DDP does), in one flat all-reduce."""
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    flat = torch._utils._flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= world
    for g, avg in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads), strict=True):
        g.copy_(avg)


def gather_states(run: Runtime, gen: torch.Generator) -> list[torch.Tensor]:
    """Every rank's state of ``gen`` (a collective: all ranks call it)."""
    if run.world == 1:
        return [gen.get_state()]
    states = [None] * run.world
    dist.all_gather_object(states, gen.get_state())
    return states


# --- the shared loop ------------------------------------------------------------------------
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
    labels = check_labels(net, x_train, labels)
    p_drop = dropout_rate(spec, labels)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)  # data order, label dropout: shared by all ranks
    steps, bs = int(spec["steps"]), int(spec["batch_size"])
    part = slice(run.rank * local_batch(bs, run.world), (run.rank + 1) * (bs // run.world))
    noise = gen if run.world == 1 else torch.Generator().manual_seed(rank_seed(seed, run.rank))
    net.to(dev)
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
        set_rng_state(state, dev)
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
        y = None if labels is None else drop_labels(labels[idx], p_drop, net.null_label, gen)
        if run.world > 1:
            idx, y = idx[part], None if y is None else y[part]
        x0 = x_train[idx].to(dev)
        loss, terms = method.loss(
            model if y is None else Conditioned(model, y=y.to(dev)), x0, noise
        )
        stop = run.ckpt is not None and step < steps and run.ckpt.time_is_up(unit_s)
        values, stop = reduce_terms(run, {"loss": float(loss.detach()), **terms}, stop)
        if not math.isfinite(values["loss"]):
            terms = {k: v for k, v in values.items() if k != "loss"}
            bad = {k: v for k, v in terms.items() if not np.isfinite(v)} or terms
            raise FloatingPointError(f"non-finite loss at step {step}: {bad}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if run.world > 1 and method.functional_loss:
            average_gradients(net, run.world)
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        sched.step()
        ema_update(ema, net, decay)
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
                    "net": to_cpu(net.state_dict()),
                    "ema": to_cpu(ema.state_dict()),
                    "opt": to_cpu(opt.state_dict()),
                    "sched": sched.state_dict(),
                    "gen": gen.get_state(),
                    "noise_gens": noise_gens,
                    **rng_state(dev),
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
    from mfgstudy.data import load_data
    from mfgstudy.device import current
    from mfgstudy.methods import build_method
    from mfgstudy.nets import count_parameters, is_conditional
    from mfgstudy.sde import VPSDE
    from mfgstudy.store import canonical_json, open_store, save_torch, write_store

    t0 = time.time()
    if checkpoint_dir is None and (walltime_min is not None or checkpoint_every is not None):
        raise ValueError("--walltime-min and --checkpoint-every need --checkpoint-dir")
    run = Runtime.start(current())
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
        ema, tlog, extra = method.fit(
            net, data.train, spec["train"], seed, data.kind, labels=labels, run=run,
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
        run.close()
