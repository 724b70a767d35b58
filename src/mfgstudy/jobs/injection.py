"""The injection job: the class-embedding attack (``mfgstudy.analysis.injection``) on one trained
class-conditional model, judged by the digits classifier, written as one store."""

from __future__ import annotations

import time

import numpy as np

from mfgstudy.analysis.injection import attack
from mfgstudy.device import for_data
from mfgstudy.nets import is_conditional


def injection_job(
    spec: dict, seed: int, data_path: str, model_path: str, classifier_path: str, out: str
) -> None:
    """The injection job: one trained class-conditional model attacked at every eps, one zarr.

    Reads ``spec["sde"]``, ``spec["method"]`` (whose images net spec must have ``n_classes``),
    ``spec["sampler"]``, ``spec["grid"]``, ``spec["steps"]`` (an int) and ``spec["injection"]``:
    ``n_per_class`` (samples per source class), ``target_shift`` (target = (source + shift) mod
    n_classes, default 1), ``eps`` (list), ``pgd_iters``, ``pgd_lr``, ``batch_size`` (default
    100); ``spec["unit"]``, where present, is added to the attrs.
    """
    from mfgstudy.core.sde import VPSDE
    from mfgstudy.data import load_data
    from mfgstudy.methods.registry import build_method
    from mfgstudy.models import load_classifier, load_net
    from mfgstudy.store import open_store, write_store

    t0 = time.time()
    data = load_data(open_store(data_path))
    if data.kind != "images":
        raise ValueError(f"the injection analog runs on digits, not {data.kind} data")
    device = for_data(data.kind)  # images: the job's device
    net = load_net(spec, data, model_path, device, seed)
    if not is_conditional(net):
        raise ValueError(
            f"method {spec['method']['kind']!r}: the injection job needs a class-conditional "
            "network (net.images.n_classes > 0)"
        )
    sde = VPSDE.from_spec(spec["sde"])
    method = build_method(spec["method"], sde)
    classifier = load_classifier(classifier_path, device).requires_grad_(False)
    inj = spec["injection"]
    k = net.n_classes
    sources = np.tile(np.arange(k), int(inj["n_per_class"]))
    shift = int(inj.get("target_shift", 1))
    if shift % k == 0:
        raise ValueError(f"target_shift={shift} makes the target the source class")
    targets = (sources + shift) % k
    ds = attack(
        method,
        net,
        classifier,
        sde,
        spec["sampler"],
        spec["grid"],
        int(spec["steps"]),
        sources,
        targets,
        inj["eps"],
        int(inj["pgd_iters"]),
        float(inj["pgd_lr"]),
        seed,
        batch_size=int(inj.get("batch_size", 100)),
        event_shape=data.event_shape,
    )
    ds.attrs.update(
        method=spec["method"]["kind"],
        n_per_class=int(inj["n_per_class"]),
        target_shift=shift,
    )
    write_store(ds, out, spec, seed, t0, spec.get("unit"))
