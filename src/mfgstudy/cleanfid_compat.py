"""Import clean-fid where torchvision cannot be installed.

clean-fid imports torchvision at module level for two things: ``transforms.ToTensor`` (used when it
reads images) and torchvision's Inception blocks (base classes of its pytorch-fid Inception port,
which the torchscript "clean" Inception and custom feature extractors never use). There is no CPU
build of torchvision on our CI machines, and a plain ``pip install clean-fid`` drags in a CUDA
torch of several GB, so CI installs clean-fid without its dependencies.

``import_cleanfid()`` returns ``cleanfid.fid``. When torchvision is installed it does nothing
special. When it is absent it lends clean-fid, for the duration of the import only, a stand-in
``torchvision`` with a faithful ``ToTensor`` for numpy arrays and Inception classes that raise a
clear error if anything tries to build them. The stand-in is removed from ``sys.modules`` again,
so no other code can mistake it for torchvision.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import torch

_STUB_NAMES = (
    "torchvision",
    "torchvision.transforms",
    "torchvision.models",
    "torchvision.models.inception",
)
_MISSING = (
    "torchvision is not installed, so clean-fid's pytorch-fid Inception port ({name}) is "
    "unavailable; use clean-fid's torchscript Inception weights or a custom feature extractor, "
    "or install torchvision"
)


class _ToTensor:
    """torchvision.transforms.ToTensor for numpy HWC arrays: uint8 -> float in [0, 1], CHW."""

    def __call__(self, pic: np.ndarray) -> torch.Tensor:
        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        return t.float().div(255.0) if arr.dtype == np.uint8 else t


def _unavailable_class(name: str) -> type:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(_MISSING.format(name=name))

    return type(name, (torch.nn.Module,), {"__init__": __init__})


def _stub_modules() -> dict[str, types.ModuleType]:
    tv = types.ModuleType("torchvision")
    tv.__version__ = "0.0+absent"
    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToTensor = _ToTensor
    models = types.ModuleType("torchvision.models")
    inception = types.ModuleType("torchvision.models.inception")
    for cls in ("InceptionA", "InceptionC", "InceptionE", "Inception3"):
        setattr(inception, cls, _unavailable_class(f"torchvision.models.inception.{cls}"))

    def inception_v3(*args, **kwargs):
        raise RuntimeError(_MISSING.format(name="torchvision.models.inception_v3"))

    models.inception, models.inception_v3 = inception, inception_v3
    tv.transforms, tv.models = transforms, models
    return dict(zip(_STUB_NAMES, (tv, transforms, models, inception), strict=True))


def torchvision_available() -> bool:
    return importlib.util.find_spec("torchvision") is not None


def import_cleanfid():
    """``cleanfid.fid``, importable with or without torchvision."""
    if "cleanfid.fid" in sys.modules or torchvision_available():
        return importlib.import_module("cleanfid.fid")
    if importlib.util.find_spec("cleanfid") is None:
        raise ImportError(
            "clean-fid is not installed: `pip install --no-deps clean-fid==0.1.35` (CPU machines) "
            "or `pip install clean-fid` (with torchvision)"
        )
    saved = {name: sys.modules.get(name) for name in _STUB_NAMES}
    sys.modules.update(_stub_modules())
    try:
        return importlib.import_module("cleanfid.fid")
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:  # pragma: no cover - only if a torchvision was half-imported before
                sys.modules[name] = mod
