"""Where a job computes: the torch device chosen once per process by the CLI's ``--device``.

``auto`` takes the GPU when torch sees one and says so in the job log; ``cuda`` insists on one
(a clear error on a machine without CUDA, never a silent switch to the CPU); ``cpu`` stays on the
CPU. The workflow passes ``--device cuda`` to every job whose resources ask for a GPU
(``mfgstudy.pipeline.compute.job_device``), so a GPU job in an environment built with the CPU
wheel of torch (e.g. by ``make env`` on a cluster's login node) stops at its start with
``NoCudaError``, naming its node, why torch sees no GPU there and the fix, instead of running on
the CPU for days.

Job functions ask ``current()``; tensors that leave a job (stores, checkpoints) go back to the
CPU. Random draws stay on CPU generators (``torch.Generator()``) and are moved to the device
afterwards, so that a seed gives the same numbers on every device up to floating point.

Where sampling and evaluation compute (``for_data``): **points stay on the CPU in float64, images
go to ``current()``.** 2-D points are tiny (a GPU only adds launch and transfer costs) and their
closed-form scores (``mfgstudy.core.exact``) and W2 metrics are CPU float64 code, so a points sample
or evaluate job computes on the CPU whatever ``--device`` says (a trained network is loaded
there; training itself runs on ``current()``, see ``mfgstudy.training``). Image jobs (sampling, the
injection attack, the digits classifier, Inception / digits features through clean-fid) put
their networks and batches on ``current()``. A module's device is read from its
parameters (``of``), so helpers that take a loaded network follow it without a device argument.
On the CPU every path computes exactly what it computed before devices existed (bit-identical).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket

import torch

from mfgstudy.errors import UserError
from mfgstudy.verbs import DEVICES

log = logging.getLogger(__name__)
CHOICES = DEVICES
_current = torch.device("cpu")


class NoCudaError(UserError, RuntimeError):
    """``--device cuda`` (a GPU job) where torch sees no CUDA device."""


def why_no_cuda() -> str:
    """Why torch sees no CUDA device on this node, and the fix, in words."""
    host = socket.gethostname()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if torch.version.cuda is None:
        return (
            f"the installed torch {torch.__version__} on node {host} is the CPU wheel (a CPU "
            "build: torch.version.cuda is None), as the bootstrap installs where no GPU answers, "
            "e.g. on a cluster's login node. Fix: build the environment for the GPU nodes: "
            "`rm -r .venv && make slurm-env TORCH=cuda` (or `make env` inside a GPU job), or "
            "run with `--sdm conda` and `environment: cuda` (envs/cuda.yaml)"
        )
    if visible is not None and visible.strip() in ("", "-1", "NoDevFiles"):
        return (
            f"torch {torch.__version__} is a CUDA {torch.version.cuda} build, but node {host} "
            f"gave this job no GPU (CUDA_VISIBLE_DEVICES={visible!r}). Fix: ask the scheduler "
            "for one (the rule's `gpu` resource: config `resources`; the SLURM profile turns it "
            "into --gpus), or run on a node that has one"
        )
    return (
        f"torch {torch.__version__} is a CUDA {torch.version.cuda} build, but finds no usable "
        f"GPU on node {host} (CUDA_VISIBLE_DEVICES={visible!r}): no NVIDIA driver there, or "
        f"one older than CUDA {torch.version.cuda} needs (`nvidia-smi` on {host} shows it). "
        "Fix: run on a GPU node, or build the environment with a torch for its driver"
    )


def resolve(name: str) -> torch.device:
    """The device a ``--device`` value names on this machine; ``cuda`` where torch sees no CUDA
    device raises ``NoCudaError`` (``why_no_cuda``)."""
    if name not in CHOICES:
        raise ValueError(f"device must be one of {CHOICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise NoCudaError(
            f"--device cuda (this job's resources ask for a GPU), but torch sees no CUDA device: "
            f"{why_no_cuda()}"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def configure(name: str = "auto") -> torch.device:
    """Choose the process's device (once, at job start) and log the choice."""
    global _current
    _current = resolve(name)
    where = torch.cuda.get_device_name(_current) if _current.type == "cuda" else "CPU"
    log.info("device: %s (%s; asked for %s)", _current, where, name)
    return _current


def current() -> torch.device:
    """The device chosen by ``configure`` (the CPU until then)."""
    return _current


def for_data(kind: str) -> torch.device:
    """Where a job on data of ``kind`` computes: the CPU for "points", ``current()`` for
    "images" (the rule of the module docstring)."""
    if kind == "points":
        return torch.device("cpu")
    if kind == "images":
        return _current
    raise ValueError(f"data kind must be points or images, got {kind!r}")


def of(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s parameters (buffers if it has none; the CPU if neither)."""
    for t in itertools.chain(module.parameters(), module.buffers()):
        return t.device
    return torch.device("cpu")
