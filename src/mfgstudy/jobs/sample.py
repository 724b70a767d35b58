"""The sample job: every perturbation kind and N of one sweep unit (and its reference run),
one zarr per (kind, N)."""

from __future__ import annotations

import itertools
import logging
import time

import torch
import xarray as xr

from mfgstudy.core.adversarial import build_perturbation
from mfgstudy.core.samplers import generate, progress_bar
from mfgstudy.core.sde import VPSDE
from mfgstudy.data import image_dims, load_data, model_to_images
from mfgstudy.device import for_data
from mfgstudy.layout import store_name
from mfgstudy.models import load_score
from mfgstudy.store import atomic_path, open_store, write_store

log = logging.getLogger(__name__)


def sample_unit(spec: dict, seed: int, data_path: str, model_path: str | None, out: str) -> None:
    data = load_data(open_store(data_path))
    device = for_data(data.kind)  # points: the CPU; images: the job's device
    score = load_score(spec, data, model_path, device, seed)
    sde = VPSDE.from_spec(spec["sde"])
    ref = spec.get("reference_steps")
    all_steps = list(spec["steps"]) + ([ref] if ref else [])
    dtype = torch.float64 if data.kind == "points" else torch.float32
    n_classes = data.n_classes or 1
    if spec["batch_size"] % n_classes:  # BalancedLabels gives sample i the label i mod n_classes
        raise ValueError(f"batch_size {spec['batch_size']} must be a multiple of {n_classes}")
    with atomic_path(out) as tmp:
        for (kind, pspec), n in itertools.product(spec["perturbations"].items(), all_steps):
            t0 = time.time()
            perturbation = build_perturbation(pspec, spec["eps"], data.event_shape)
            x = generate(
                spec["sampler"],
                spec["grid"],
                sde,
                score,
                n,
                spec["n_samples"],
                data.event_shape,
                seed,
                brownian_steps=ref,
                batch_size=spec["batch_size"],
                dtype=dtype,
                progress=progress_bar(f"{kind} eps={spec['eps']:g} N={n}"),
                perturbation=perturbation,
                device=device,
            )  # on the CPU
            finite = torch.isfinite(x.flatten(1)).all(1).numpy()
            if data.kind == "points":
                ds = xr.Dataset({"x": (("sample", "dim"), x.numpy())})
            else:
                x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))  # recorded in `finite`
                images = model_to_images(x)  # (n, h, w) grey, (n, h, w, c) colour
                ds = xr.Dataset({"images": (image_dims(images), images)})
            ds["finite"] = (("sample",), finite)
            attrs = {**spec["unit"], "steps": n, "is_reference": n == ref, "data_kind": data.kind,
                     "perturbation": kind, "eps": spec["eps"]}  # fmt: skip
            write_store(ds, tmp / store_name(kind, n), spec, seed, t0, attrs)
            log.info("%s eps=%g N=%d: %d samples in %.2fs", kind, spec["eps"], n,
                     spec["n_samples"], time.time() - t0)  # fmt: skip
