"""Tiny stand-ins for the paper's image data sets, in their real on-disk formats.

* :func:`write_cifar_tarball`: a ``cifar-10-python.tar.gz`` as distributed by
  https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: ``cifar-10-batches-py/`` with
  ``data_batch_1`` .. ``data_batch_5``, ``test_batch``, ``batches.meta`` and ``readme.html``; each
  batch a protocol-2 pickle of a dict with bytes keys ``b"batch_label"``, ``b"labels"`` (list of
  ints), ``b"data"`` (uint8 (n, 3072): the R, then G, then B plane of a 32 x 32 image, row-major)
  and ``b"filenames"``.
* :func:`write_celebahq`: a folder or a zip of PNG faces, ``celeba_hq_256/00000.png`` ... as in
  the Kaggle data set "celebahq-resized-256x256".

Both return the images they wrote as uint8 (n, h, w, 3) RGB in the order the loaders read them,
and make the first image (of every CIFAR batch) pure red and the second pure green, so that a
channel mix-up shows.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

RED, GREEN = (255, 0, 0), (0, 255, 0)
CIFAR_LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                     b"horse", b"ship", b"truck"]  # fmt: skip


def _images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    for i, colour in enumerate((RED, GREEN)[:n]):
        images[i] = colour
    return images


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_cifar_tarball(path, n_per_batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a CIFAR-10 python-version tarball with ``n_per_batch`` images in each of the five
    training batches and the test batch. Returns ``x_train`` (5 n, 32, 32, 3), ``y_train``,
    ``x_test`` (n, 32, 32, 3), ``y_test``: train is the batches in order, as the loader reads them;
    image 0 of every batch is red, image 1 green."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    out: dict[str, list] = {"x_train": [], "y_train": [], "x_test": [], "y_test": []}
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(names):
            images = _images(rng, n_per_batch, 32)
            labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
            batch = {
                b"batch_label": f"{name} of 5".encode(),
                b"labels": labels,
                b"data": images.transpose(0, 3, 1, 2).reshape(n_per_batch, 3072),  # R, G, B planes
                b"filenames": [f"img_{k}_{i}.png".encode() for i in range(n_per_batch)],
            }
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
            split = "test" if name == "test_batch" else "train"
            out[f"x_{split}"].append(images)
            out[f"y_{split}"].append(np.asarray(labels, dtype=np.int64))
        meta = {b"label_names": CIFAR_LABEL_NAMES, b"num_cases_per_batch": n_per_batch,
                b"num_vis": 3072}  # fmt: skip
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        _add(tar, "cifar-10-batches-py/readme.html", b"<html>stand-in</html>")
    return {k: np.concatenate(v) for k, v in out.items()}


def write_celebahq(
    path, n: int, size: int, zip: bool = False, subdir: str = "celeba_hq_256", seed: int = 0
) -> np.ndarray:
    """Write ``n`` RGB PNG images of ``size`` x ``size`` named ``{subdir}/{i:05d}.png`` into the
    folder ``path`` or, with ``zip``, into the zip archive ``path``. Returns them as uint8
    (n, size, size, 3) in sorted name order; image 0 is red, image 1 green."""
    from PIL import Image

    images = _images(np.random.default_rng(seed), n, size)
    path = Path(path)
    prefix = f"{subdir}/" if subdir else ""
    if zip:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w") as zf:
            for i, img in enumerate(images):
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="PNG")
                zf.writestr(f"{prefix}{i:05d}.png", buf.getvalue())
    else:
        folder = path / subdir if subdir else path
        folder.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(images):
            Image.fromarray(img).save(folder / f"{i:05d}.png")
    return images
