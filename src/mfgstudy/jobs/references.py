"""The image metrics' references, which no sampler and no model enter: the reference statistics
of the training split (the ``reference`` job) and the image metrics against them
(:class:`ImageMetrics`, which the ``evaluate`` and ``floor`` jobs apply). Apart from the
evaluate job's module so that the code hash of the jobs that use them, and so their reruns,
follow only the code they run.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from mfgstudy.device import for_data
from mfgstudy.metrics import CONFIDENCE
from mfgstudy.models import load_classifier
from mfgstudy.store import open_store, write_store

log = logging.getLogger(__name__)


def feature_source(
    key: str,
    classifier_path: str | None,
    inception_weights: str | None,
    device="cpu",
    inception_sha256: str | None = None,
):
    """The feature source ``key`` (digits | inception) of the image metrics, on ``device``;
    the Inception file must have ``inception_sha256`` (default: the published hash)."""
    from mfgstudy.metrics.features import digits_source, inception_source

    if key == "digits":
        if classifier_path is None:
            raise ValueError("digits features need the digits classifier (--classifier)")
        return digits_source(load_classifier(classifier_path, device))
    if key == "inception":
        return inception_source(inception_weights, device, sha256=inception_sha256)
    raise ValueError(f"unknown feature source {key!r}; choose digits or inception")


def reference_job(spec: dict, data_path: str, out: str, classifier_path: str | None = None):
    """Reference statistics (features, mean, covariance) of the training split."""
    from mfgstudy.metrics.features import reference_statistics

    t0 = time.time()
    source = feature_source(
        spec["features"],
        classifier_path,
        spec.get("inception_weights"),
        for_data("images"),
        spec.get("inception_sha256"),
    )
    images = open_store(data_path)["images_train"].values
    ds = reference_statistics(images, source)
    write_store(ds, out, spec, None, t0, {"reference_split": "train", "dataset": spec["dataset"]})
    log.info("%s reference statistics of %d training images", source.label, len(images))


class ImageMetrics:
    """Every configured feature source with its reference, and the digits classifier."""

    def __init__(self, spec: dict, reference_paths: list[str], classifier_path: str | None):
        self.settings = spec["image_metrics"]
        device = for_data("images")
        self.clf = load_classifier(classifier_path, device) if classifier_path else None
        self.sources = []
        for path in reference_paths:
            ref = open_store(path)
            key = ref.attrs["feature_source"]
            weights, sha = (self.settings.get(k) for k in ("inception_weights", "inception_sha256"))
            source = feature_source(key, classifier_path, weights, device, sha)
            self.sources.append((source, ref))

    def __call__(self, images: np.ndarray) -> dict:
        from mfgstudy.analysis.classifier import predict_proba
        from mfgstudy.metrics.features import image_metrics

        vals = {}
        for source, ref in self.sources:
            k, splits = self.settings["nearest_k"], self.settings["is_splits"]
            vals.update(image_metrics(images, source, ref, nearest_k=k, is_splits=splits))
        if self.clf is not None:
            proba = predict_proba(self.clf, images)
            vals["confident_fraction"] = float((proba.max(1) > CONFIDENCE).mean())
        return vals

    def protocol(self, n: int) -> dict:
        from mfgstudy.metrics.features import protocol

        out = {}
        for source, _ in self.sources:
            p = protocol(source, n, "train", nearest_k=self.settings["nearest_k"],
                         is_splits=self.settings["is_splits"])  # fmt: skip
            out.update({f"{source.key}_{k}": v for k, v in p.items()})
        return out

    def names(self) -> list[str]:
        return [source.keys["fd"] for source, _ in self.sources]
