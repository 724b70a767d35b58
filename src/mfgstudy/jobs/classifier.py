"""The train_classifier job: the digits classifier (``mfgstudy.analysis.classifier``) trained on
a data set's train split, its weights and its test accuracy written."""

from __future__ import annotations

import logging

from mfgstudy.analysis.classifier import accuracy, train_classifier
from mfgstudy.device import for_data

log = logging.getLogger(__name__)


def classifier_job(spec: dict, data_path: str, out_model: str, out_report: str) -> None:
    """The train_classifier job: weights, and the test accuracy as a store."""
    import json
    import time

    import xarray as xr

    from mfgstudy.store import open_store, save_torch, write_store

    t0 = time.time()
    ds = open_store(data_path)
    images, labels = ds["images_train"].values, ds["labels_train"].values
    net = train_classifier(images, labels, spec, spec["seed"], for_data("images"))
    acc = accuracy(net, ds["images_test"].values, ds["labels_test"].values)
    log.info("classifier test accuracy %.4f", acc)
    save_torch({"state_dict": net.cpu().state_dict(), "spec": json.dumps(spec)}, out_model)
    write_store(xr.Dataset({"test_accuracy": ((), acc)}), out_report, spec, spec["seed"], t0)
