"""Evaluate one sweep unit (all its N) and the per-data-set floors.

Points: the uncoupled EMD to an independent block of the data law, the coupled estimate against
the unit's own reference run (same x_T and Brownian path), and, for the exact oracle on a
Gaussian law, the closed-form W2 of the N-step law to the sampler's fine-grid law and to the
data law. Images: FD-digits to the training split and the share of confidently classified samples.
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from mfgstudy.data import load_data
from mfgstudy.plan import UNPERTURBED, store_name
from mfgstudy.store import atomic_path, load_torch, open_store, write_store

log = logging.getLogger(__name__)

CONFIDENCE = 0.9


def load_classifier(path: str):
    import json

    from mfgstudy.nets import DigitsClassifier

    ckpt = load_torch(path)
    spec = json.loads(ckpt["spec"])
    net = DigitsClassifier(width=int(spec["width"]), feat_dim=int(spec["feat_dim"]))
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


def _closed_form(spec: dict, data):
    """Closed-form W2 per N for the exact oracle on a one-component Gaussian law (a Dirac
    included), else None: to the sampler's continuous-time limit (for a Dirac and a stochastic
    sampler, Theorem 2's law), and to the data law."""
    from mfgstudy.methods import build_method
    from mfgstudy.metrics.gaussian import continuous_law, sampler_law, theorem2_law, w2_gaussians
    from mfgstudy.samplers import build_sampler
    from mfgstudy.sde import VPSDE, grid_from_spec, stopped

    mix = data.mixture
    if spec["method"]["kind"] != "exact" or mix is None or len(mix.weights) != 1:
        return None
    sde = stopped(VPSDE.from_spec(spec["sde"]), spec["grid"])
    score = build_method(spec["method"], sde).score_fn(data)
    sampler = build_sampler(spec["sampler"])
    m0, c0 = mix.means[0].numpy(), mix.covs[0].numpy()
    if data.ds.attrs.get("dataset_kind") == "dirac" and sampler.stochastic:
        limit = theorem2_law(sde, m0)  # the PDE paper's closed form (tested = the moment ODE)
    else:
        limit = continuous_law(sde, mix, sampler.stochastic)

    def at(n):
        m, c = sampler_law(sampler, sde, score, grid_from_spec(sde, n, spec["grid"]), mix.dim)
        return {
            "w2_closed": w2_gaussians(m, c, *limit),
            "w2_closed_data": w2_gaussians(m, c, m0, c0),
        }

    return at


def evaluate_unit(
    spec, seed, data_path, samples_dir, out_dir, classifier_path=None, clean_dir=None
) -> None:
    """Metrics of every (perturbation kind, N) store of a unit; a perturbed unit is also
    compared with its unperturbed samples ``clean_dir`` (same x_T and noise)."""
    data = load_data(open_store(data_path))
    samples_dir = Path(samples_dir)
    closed = _closed_form(spec, data) if data.kind == "points" else None
    clf = load_classifier(classifier_path) if data.kind == "images" else None
    ref = spec.get("reference_steps")
    with atomic_path(out_dir) as tmp:
        for kind, n in itertools.product(spec["perturbations"], spec["steps"]):
            t0 = time.time()
            s = open_store(samples_dir / store_name(kind, n))
            x_ref = _points_of(samples_dir / store_name(kind, ref)) if ref else None
            x_clean = (
                _points_of(Path(clean_dir) / store_name(UNPERTURBED, n)) if clean_dir else None
            )
            vals = _unit_metrics(s, data, spec, seed, closed, clf, x_ref, x_clean, n)
            ds = xr.Dataset({k: ((), float(v)) for k, v in vals.items()})
            attrs = {**spec["unit"], "seed": seed, "steps": n, "perturbation": kind,
                     "eps": spec["eps"], **_protocol(data.kind, len(s.sample))}  # fmt: skip
            write_store(ds, tmp / store_name(kind, n), spec, seed, t0, attrs)
            log.info("%s eps=%g N=%d: %s", kind, spec["eps"], n,
                     ", ".join(f"{k}={v:.4g}" for k, v in vals.items()))  # fmt: skip


def _points_of(path: Path) -> np.ndarray | None:
    ds = open_store(path)
    return ds["x"].values if "x" in ds else None


def _unit_metrics(s, data, spec, seed, closed, clf, x_ref, x_clean, n) -> dict:
    from mfgstudy.metrics.w2 import reference_chunk, w2_coupled, w2_empirical

    finite = s["finite"].values
    if not finite.all():  # a diverged sampler or model: record it, W2 is infinite
        vals = {"nonfinite_fraction": float(1 - finite.mean())}
        vals.update({k: np.inf for k in _metric_names(data.kind, x_ref, closed, x_clean)})
        return vals
    if data.kind == "images":
        vals = _image_metrics(s["images"].values, data.ds["images_train"].values, clf)
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
        vals.update(_support_metrics(x, data, spec["metrics"], seed))
    vals.setdefault("nonfinite_fraction", 0.0)
    return vals


def _support_metrics(x: np.ndarray, data, spec: dict, seed: int) -> dict:
    """Where the samples sit relative to the training points (memorisation, concentration on
    the empirical support) and, for a law on boxes (checkerboard), to its support: the share
    inside, the mean distance to it, and the mass in a band of half-width ``boundary_width``
    around its edges relative to the data law's own (1 for the data law; > 1: Gibbs-like
    excess at the edges)."""
    from mfgstudy.exact import BoxUniform
    from mfgstudy.metrics import support
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


def _metric_names(kind: str, x_ref, closed, x_clean) -> list[str]:
    if kind == "images":
        return ["fd_digits"]
    names = ["w2_uncoupled"] + (["w2_coupled"] if x_ref is not None else [])
    names += ["w2_to_clean_coupled", "w2_to_clean"] if x_clean is not None else []
    return names + (["w2_closed", "w2_closed_data"] if closed is not None else [])


def _protocol(kind: str, n: int) -> dict:
    """The measurement protocol recorded beside every number."""
    if kind == "points":
        return {"w2_reference": "independent block of the data law (x_test)", "n_generated": n}
    from mfgstudy.metrics.fd import PROTOCOL

    return {**PROTOCOL, "fd_reference_split": "train", "n_generated": n}


def _image_metrics(images: np.ndarray, reference: np.ndarray, clf) -> dict:
    from mfgstudy.classifier import predict_proba
    from mfgstudy.metrics.fd import ClassifierFeatures, fd_between

    proba = predict_proba(clf, images)
    return {
        "fd_digits": fd_between(images, reference, ClassifierFeatures(clf)),
        "confident_fraction": float((proba.max(1) > CONFIDENCE).mean()),
    }


def floor(spec, data_path, out, classifier_path=None) -> None:
    """The floor of each estimator for this data set at the sweep's sample size."""
    from mfgstudy.metrics.w2 import w2_floor

    t0 = time.time()
    data = load_data(open_store(data_path))
    if data.kind == "points":
        vals = w2_floor(data.test_points(), spec["n_samples"], spec["repeats"])
        ds = xr.Dataset({"w2_floor": (("pair",), vals)})
        log.info("W2 floor at n=%d: %.4f +- %.4f", spec["n_samples"], vals.mean(), vals.std())
    else:
        from mfgstudy.metrics.fd import ClassifierFeatures, fd_between

        clf = load_classifier(classifier_path)
        test, train = data.ds["images_test"].values, data.ds["images_train"].values
        fd = fd_between(test, train, ClassifierFeatures(clf))
        from mfgstudy.metrics.fd import PROTOCOL

        attrs = {**PROTOCOL, "n_test": len(test), "n_train": len(train)}
        ds = xr.Dataset({"fd_digits_floor": ((), fd)}, attrs=attrs)
        log.info("FD-digits floor (test vs train): %.4f", fd)
    write_store(ds, out, spec, None, t0, spec["unit"])
