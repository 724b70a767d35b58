"""Where a job computes: the torch device chosen once per process by the CLI's ``--device``.

``auto`` takes the GPU when torch sees one and says so in the job log; ``cuda`` insists on one
(a clear error on a machine without CUDA, never a silent switch to the CPU); ``cpu`` stays on the
CPU. Job functions ask ``current()``; tensors that leave a job (stores, checkpoints) go back to
the CPU. Random draws stay on CPU generators (``torch.Generator()``) and are moved to the device
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

import torch

from mfgstudy.verbs import DEVICES

log = logging.getLogger(__name__)
CHOICES = DEVICES
_current = torch.device("cpu")


def resolve(name: str) -> torch.device:
    """The device a ``--device`` value names on this machine."""
    if name not in CHOICES:
        raise ValueError(f"device must be one of {CHOICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "--device cuda, but torch sees no CUDA device (CUDA_VISIBLE_DEVICES="
            "unset or empty, or a CPU build of torch); use --device cpu or auto"
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
