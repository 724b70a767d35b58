"""The digits classifier: trained on the train split, checked on the test split; its penultimate
layer is the feature space of FD-digits and its softmax the confidence check of generated digits.
It trains and predicts on the device of the job (``mfgstudy.device``: images go there); batch
order and noise come from a CPU generator, so a seed draws the same batches on every device."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from mfgstudy.data import images_to_model
from mfgstudy.device import of
from mfgstudy.nets import DigitsClassifier

log = logging.getLogger(__name__)


def train_classifier(
    images, labels, spec: dict, seed: int, device: torch.device | str = "cpu"
) -> DigitsClassifier:
    """The trained classifier, on ``device`` (in eval mode)."""
    if np.ndim(images) != 3:
        raise ValueError(
            f"the digits classifier trains on grey 8x8 images (n, h, w), got {np.shape(images)}: "
            "colour data sets (cifar10, celebahq) are measured with image_metrics.features: "
            "[inception] and need no classifier"
        )
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)  # CPU: the same draws on every device
    x = images_to_model(images).to(device)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
    net = DigitsClassifier(width=int(spec["width"]), feat_dim=int(spec["feat_dim"])).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=float(spec["lr"]), weight_decay=1e-4)
    bs = int(spec["batch_size"])
    for epoch in range(int(spec["epochs"])):
        perm = torch.randperm(len(x), generator=gen).to(device)
        total = 0.0
        for lo in range(0, len(x), bs):
            idx = perm[lo : lo + bs]
            noise = torch.randn(x[idx].shape, generator=gen).to(device)
            xb = x[idx] + float(spec.get("noise", 0.0)) * noise
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
    """Class probabilities of uint8 images, computed on the device of ``net``."""
    return torch.softmax(net(images_to_model(images).to(of(net))), dim=1).cpu().numpy()


def accuracy(net: DigitsClassifier, images: np.ndarray, labels: np.ndarray) -> float:
    return float((predict_proba(net, images).argmax(1) == np.asarray(labels)).mean())
