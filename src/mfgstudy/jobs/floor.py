"""The floor job (``python -m mfgstudy floor``): what each estimator reads between two draws of
the data law itself at a sweep's sample size, below which a difference says nothing: for points
the W2 between disjoint blocks of test points, for images every image metric of the test split
against the training split's reference, with its spread over disjoint training subsets.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from mfgstudy.data import load_data
from mfgstudy.jobs.references import ImageMetrics
from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)


SPREAD_PARTITIONS = 2  # random partitions of the training split into sets of n (digits: 8 sets)


def spread(metrics, images: np.ndarray, n: int, repeats: int, seed: int) -> tuple[dict, int]:
    """Each image metric's own spread at the sample size n: its sd over disjoint subsets of n
    real images (``repeats`` random partitions of ``images``, the training split: the most real
    images there are), and how many subsets. Resampling with replacement would repeat images,
    which FD reads as a degenerate spread of features (its bootstrap values are 2-3 times the
    metric's), and halves of the held-out split are at another n, where FD's noise differs by
    more than any scaling law states."""
    rng = np.random.default_rng([seed, n])
    k = len(images) // n
    if k < 1:
        raise ValueError(f"the spread at n = {n} needs at least {n} images, got {len(images)}")
    values = []
    for _ in range(repeats):
        order = rng.permutation(len(images))
        values += [metrics(images[order[i * n : (i + 1) * n]]) for i in range(k)]
    keys = [key for key in values[0] if not key.endswith("_sd")]  # a metric's own sd: no spread
    return {key: float(np.std([v[key] for v in values], ddof=1)) for key in keys}, len(values)


def floor(
    spec: dict,
    data_path: str,
    out: str,
    classifier_path: str | None = None,
    reference_paths: list[str] = (),
) -> None:
    """The floor of each estimator for this data set at the sweep's sample size: for points the
    W2 between independent draws of the law, for images every image metric of the held-out test
    split against the training split's reference (``<metric>_floor``)."""
    from mfgstudy.metrics.w2 import w2_floor

    t0 = time.time()
    data = load_data(open_store(data_path))
    if data.kind == "points":
        vals = w2_floor(data.test_points(), spec["n_samples"], spec["repeats"])
        ds = xr.Dataset({"w2_floor": (("pair",), vals)})
        log.info("W2 floor at n=%d: %.4f +- %.4f", spec["n_samples"], vals.mean(), vals.std())
        attrs = {}
    else:
        metrics = ImageMetrics(spec, reference_paths, classifier_path)
        test = data.ds["images_test"].values
        vals = metrics(test)
        train = data.ds["images_train"].values
        sd, k = spread(metrics, train, len(test), SPREAD_PARTITIONS, int(spec.get("seed", 0)))
        ds = xr.Dataset({**{f"{k}_floor": ((), float(v)) for k, v in vals.items()},
                         **{f"{k}_floor_sd": ((), v) for k, v in sd.items()}})  # fmt: skip
        attrs = {**metrics.protocol(len(test)),
                 "floor": f"test split (n = {len(test)}) against the train split; _floor_sd: "
                          f"the metric's sd over {k} disjoint subsets of n training images "
                          "(its own spread at this n)"}  # fmt: skip
        log.info("image floors (test vs train): %s; sd over resamples: %s", vals, sd)
    write_store(ds, out, spec, None, t0, {**spec["unit"], **attrs})
