"""The digits classifier: trained on the train split, checked on the test split; its penultimate
layer is the feature space of FD-digits and its softmax the confidence check of generated digits."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from mfgstudy.data import images_to_model
from mfgstudy.nets import DigitsClassifier

log = logging.getLogger(__name__)


def train_classifier(images, labels, spec: dict, seed: int) -> DigitsClassifier:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, y = images_to_model(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))
    net = DigitsClassifier(width=int(spec["width"]), feat_dim=int(spec["feat_dim"]))
    opt = torch.optim.Adam(net.parameters(), lr=float(spec["lr"]), weight_decay=1e-4)
    bs = int(spec["batch_size"])
    for epoch in range(int(spec["epochs"])):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for lo in range(0, len(x), bs):
            idx = perm[lo : lo + bs]
            xb = x[idx] + float(spec.get("noise", 0.0)) * torch.randn(x[idx].shape, generator=gen)
            loss = nn.functional.cross_entropy(net(xb), y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite classifier loss in epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        log.info("classifier epoch %d: loss %.4f", epoch, total / len(x))
    return net.eval()


@torch.no_grad()
def predict_proba(net: DigitsClassifier, images: np.ndarray) -> np.ndarray:
    return torch.softmax(net(images_to_model(images)), dim=1).numpy()


def accuracy(net: DigitsClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    return float((predict_proba(net, images).argmax(1) == np.asarray(labels)).mean())


def classifier_job(spec: dict, data_path: str, out_model: str, out_report: str) -> None:
    """The train_classifier job: weights, and the test accuracy as a store."""
    import json
    import time

    import xarray as xr

    from mfgstudy.store import open_store, save_torch, write_store

    t0 = time.time()
    ds = open_store(data_path)
    net = train_classifier(ds["images_train"].values, ds["labels_train"].values, spec, spec["seed"])
    acc = accuracy(net, ds["images_test"].values, ds["labels_test"].values)
    log.info("classifier test accuracy %.4f", acc)
    save_torch({"state_dict": net.state_dict(), "spec": json.dumps(spec)}, out_model)
    write_store(xr.Dataset({"test_accuracy": ((), acc)}), out_report, spec, spec["seed"], t0)
