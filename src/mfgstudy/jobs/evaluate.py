"""Evaluate one sweep unit (all its N); the floors and references it is compared with are
``mfgstudy.jobs.references``.

Points: the uncoupled EMD to an independent block of the data law, the coupled estimate against
the unit's own reference run (same x_T and Brownian path), and, for the exact oracle on a
Gaussian law, the closed-form W2 of the N-step law to the sampler's fine-grid law and to the
data law; where the samples sit against the training points (memorisation, raw and after one
Tweedie step with the method's score at the stopping time, beside fresh draws of the law:
``mfgstudy.metrics.memorisation``) and against a law's support. Images: per feature source
(``mfgstudy.metrics.features``: the digits classifier, labelled "FD-digits"/"IS-digits"/..., or
Inception: "FID"/"Inception Score"/...) the Fréchet distance, the Inception Score and
precision/recall/density/coverage against the reference statistics of the training split (the
``reference`` job), and the share of samples the digits classifier labels confidently. Image
features and the classifier compute on the job's device
(``mfgstudy.device.for_data("images")``); points metrics are CPU numpy code.
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from mfgstudy.analysis.convergence import closed_form_w2
from mfgstudy.data import load_data
from mfgstudy.jobs.references import ImageMetrics
from mfgstudy.layout import UNPERTURBED, store_name
from mfgstudy.store import atomic_path, open_store, write_store

log = logging.getLogger(__name__)


def evaluate_unit(
    spec: dict,
    seed: int,
    data_path: str,
    samples_dir: str,
    out_dir: str,
    classifier_path: str | None = None,
    clean_dir: str | None = None,
    reference_paths: list[str] = (),
    model_path: str | None = None,
) -> None:
    """Metrics of every (perturbation kind, N) store of a unit; a perturbed unit is also
    compared with its unperturbed samples ``clean_dir`` (same x_T and noise). ``model_path``:
    a trained method's checkpoint, whose score at the stopping time gives the Tweedie step of
    the memorisation statistics (points only)."""
    data = load_data(open_store(data_path))
    samples_dir = Path(samples_dir)
    closed = closed_form_w2(spec, data) if data.kind == "points" else None
    scores = stopping_scores(spec, data, model_path, seed) if data.kind == "points" else None
    clf = ImageMetrics(spec, reference_paths, classifier_path) if data.kind == "images" else None
    ref = spec.get("reference_steps")
    with atomic_path(out_dir) as tmp:
        for kind, n in itertools.product(spec["perturbations"], spec["steps"]):
            t0 = time.time()
            s = open_store(samples_dir / store_name(kind, n))
            x_ref = _points_of(samples_dir / store_name(kind, ref)) if ref else None
            x_clean = (
                _points_of(Path(clean_dir) / store_name(UNPERTURBED, n)) if clean_dir else None
            )
            vals = _unit_metrics(s, data, spec, seed, closed, clf, x_ref, x_clean, n, scores)
            ds = xr.Dataset({k: ((), float(v)) for k, v in vals.items()})
            protocol = clf.protocol(len(s.sample)) if clf else _points_protocol(len(s.sample))
            attrs = {**spec["unit"], "seed": seed, "steps": n, "perturbation": kind,
                     "eps": spec["eps"], **protocol}  # fmt: skip
            write_store(ds, tmp / store_name(kind, n), spec, seed, t0, attrs)
            log.info("%s eps=%g N=%d: %s", kind, spec["eps"], n,
                     ", ".join(f"{k}={v:.4g}" for k, v in vals.items()))  # fmt: skip


def stopping_scores(spec: dict, data, model_path: str | None, seed: int | None = None) -> dict:
    """What the Tweedie step at the end of sampling needs: the method's SDE, the stopping time
    (the grid's last point), the sampler's own (unperturbed) score (a model checked against the
    job, ``seed`` included) and the data law's exact score (None where the law is not known in
    closed form)."""
    from mfgstudy.core.sde import VPSDE, stopped
    from mfgstudy.methods.exact import ExactScore
    from mfgstudy.methods.registry import method_class
    from mfgstudy.models import load_score

    if model_path is None and method_class(spec["method"]["kind"]).trainable:
        log.info("no model given for the trained method %s: no Tweedie memorisation shares",
                 spec["method"]["kind"])  # fmt: skip
        return None
    sde = VPSDE.from_spec(spec["sde"])
    law = None
    if data.law is not None:
        law = ExactScore({"kind": "exact", "score": "law"}, sde).score_fn(data)
    score = load_score(spec, data, model_path, "cpu", seed)
    return {"sde": sde, "t_stop": stopped(sde, spec["grid"]).t_min, "score": score,
            "law_score": law}  # fmt: skip


def _points_of(path: Path) -> np.ndarray | None:
    ds = open_store(path)
    return ds["x"].values if "x" in ds else None


def _unit_metrics(s, data, spec, seed, closed, clf, x_ref, x_clean, n, scores=None) -> dict:
    from mfgstudy.metrics.w2 import reference_chunk, w2_coupled, w2_empirical

    finite = s["finite"].values
    if not finite.all():  # a diverged sampler or model: record it, W2 is infinite
        vals = {"nonfinite_fraction": float(1 - finite.mean())}
        vals.update({k: np.inf for k in _metric_names(data.kind, x_ref, closed, x_clean, clf)})
        return vals
    if data.kind == "images":
        vals = clf(s["images"].values)
    else:
        x = s["x"].values
        vals = {"w2_uncoupled": w2_empirical(x, reference_chunk(data.test_points(), len(x), seed))}
        if x_ref is not None:
            vals["w2_coupled"], vals["w2_coupled_se"] = w2_coupled(x, x_ref)
        if x_clean is not None:  # how far the perturbation moved the output law
            vals["w2_to_clean_coupled"], _ = w2_coupled(x, x_clean)
            vals["w2_to_clean"] = w2_empirical(x, x_clean)
        if closed is not None:
            vals.update(closed(n))
        vals.update(_support_metrics(x, data, spec["metrics"], seed, scores))
    vals.setdefault("nonfinite_fraction", 0.0)
    return vals


def _support_metrics(x: np.ndarray, data, spec: dict, seed: int, scores: dict | None = None
                     ) -> dict:  # fmt: skip
    """Where the samples sit relative to the training points (memorisation: raw, after one
    Tweedie step at the stopping time with ``scores``, and the same for fresh draws of the law
    stopped there; concentration on the empirical support) and, for a law on boxes
    (checkerboard), to its support: the share inside, the mean distance to it, and the mass in
    a band of half-width ``boundary_width`` around its edges relative to the data law's own (1
    for the data law; > 1: Gibbs-like excess at the edges)."""
    from mfgstudy.core.exact import BoxUniform
    from mfgstudy.metrics import support
    from mfgstudy.metrics.memorisation import memorisation_shares
    from mfgstudy.metrics.w2 import reference_chunk

    train = data.train.numpy().astype(np.float64)
    delta = float(spec["memorisation_delta"])
    test = reference_chunk(data.test_points(), len(x), seed)
    dist = support.nearest_distance(x, train)
    vals = {
        "train_distance_mean": float(dist.mean()),
        "memorised_fraction": float((dist <= delta).mean()),
        "memorised_fraction_data": support.within_fraction(test, train, delta),
    }
    if scores is not None:  # the Tweedie step at the stopping time; fresh draws stopped there
        vals.update(memorisation_shares(x, train, test, delta, scores["sde"], scores["t_stop"],
                                        scores["score"], scores["law_score"], seed))  # fmt: skip
    law = data.law
    if isinstance(law, BoxUniform):
        lo, hi = law.lows.numpy(), law.highs.numpy()
        width = float(spec["boundary_width"])
        vals["in_support"] = support.in_support_fraction(x, lo, hi)
        vals["support_distance_mean"] = float(support.distance_to_boxes(x, lo, hi).mean())
        vals["boundary_band_ratio"] = support.boundary_band_fraction(
            x, lo, hi, width
        ) / support.expected_boundary_band_fraction(lo, hi, width)
    return vals


def _metric_names(kind: str, x_ref, closed, x_clean, images) -> list[str]:
    if kind == "images":
        return images.names()
    names = ["w2_uncoupled"] + (["w2_coupled"] if x_ref is not None else [])
    names += ["w2_to_clean_coupled", "w2_to_clean"] if x_clean is not None else []
    return names + (["w2_closed", "w2_closed_data"] if closed is not None else [])


def _points_protocol(n: int) -> dict:
    """The measurement protocol recorded beside every W2."""
    return {"w2_reference": "independent block of the data law (x_test)", "n_generated": n}
