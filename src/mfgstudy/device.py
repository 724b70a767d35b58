"""Where a job computes: the torch device chosen once per process by the CLI's ``--device``.

``auto`` takes the GPU when torch sees one and says so in the job log; ``cuda`` insists on one
(a clear error on a machine without CUDA, never a silent switch to the CPU); ``cpu`` stays on the
CPU. Job functions ask ``current()``; tensors that leave a job (stores, checkpoints) go back to
the CPU. Random draws stay on CPU generators (``torch.Generator()``) and are moved to the device
afterwards, so that a seed gives the same numbers on every device up to floating point.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

CHOICES = ("auto", "cpu", "cuda")
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
