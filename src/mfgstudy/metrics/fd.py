"""Fréchet distance in a feature space, computed through clean-fid's custom-extractor path.

The offline default uses the pipeline's own digits classifier (penultimate layer) as the feature
extractor: the number is labelled "FD-digits", never FID. Images are written as PNG folders and
handed to ``cleanfid.fid.compute_fid(dir1, dir2, custom_feat_extractor=...)`` with an identity
resize (mode "clean" would otherwise resize 8x8 digits to 299x299).

``mfgstudy.metrics.features`` supersedes ``fd_between``: both feature sources (digits classifier,
clean-fid's TorchScript Inception), reference statistics, FD / IS / PRDC in one extraction pass.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mfgstudy.cleanfid_compat import import_cleanfid

PROTOCOL = {
    "metric_label": "FD-digits",
    "clean_fid_mode": "clean",
    "resize": "none (identity custom_fn_resize; native 8x8)",
    "feature_extractor": "pipeline digits classifier, penultimate layer",
}


class ClassifierFeatures(torch.nn.Module):
    """clean-fid feature extractor: float (B, 3, H, W) in [0, 255] -> classifier features."""

    def __init__(self, classifier: torch.nn.Module):
        super().__init__()
        self.classifier = classifier.eval()

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch[:, :1].float() / 127.5 - 1.0  # grey images were read as RGB; take one channel
        return self.classifier.features(x)


def write_pngs(images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(np.asarray(img, dtype=np.uint8), mode="L").save(folder / f"{i:06d}.png")


def _identity(img: np.ndarray) -> np.ndarray:
    return img


def fd_between(images_a: np.ndarray, images_b: np.ndarray, extractor: torch.nn.Module) -> float:
    """FD between two uint8 image sets (n, h, w) in the extractor's feature space, via clean-fid."""
    fid = import_cleanfid()
    with tempfile.TemporaryDirectory(prefix="mfgstudy-fd-") as tmp:
        da, db = Path(tmp) / "a", Path(tmp) / "b"
        write_pngs(images_a, da)
        write_pngs(images_b, db)
        score = fid.compute_fid(
            str(da),
            str(db),
            mode="clean",
            custom_feat_extractor=extractor,
            custom_fn_resize=_identity,
            device=torch.device("cpu"),
            num_workers=0,
            batch_size=256,
            verbose=False,
        )
    return float(score)
