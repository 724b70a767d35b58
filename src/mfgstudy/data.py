"""Data sets: build them (``prepare_data``) and load them back in model space.

Stores (``results/data/{name}.zarr``):

* points (2-D laws): ``x_train (sample, dim)`` float32, ``x_test (test_sample, dim)`` float32 (an
  independent draw from the law, used as the reference for W2 and its floor). Gaussian laws and
  Gaussian mixtures also store ``mix_weight (component)``, ``mix_mean (component, dim)`` and
  ``mix_cov (component, dim, dim_)`` so that the exact score is available.
* images: ``images_train`` and ``images_test`` uint8, with ``labels_*`` (labelled sets) and the
  indices of the split into the source set (``train_index``, ``test_index``). Grey images (digits)
  are ``(sample, row, col)``; colour images (CIFAR-10, CelebA-HQ) are channel-last
  ``(sample, row, col, channel)`` with channel 0, 1, 2 = R, G, B: the layout of PIL, PNG and
  ``mfgstudy.metrics.features``. Sample stores use the same layout (``images``). In model space
  every image is float ``(n, channels, h, w)`` in [-1, 1] (:func:`images_to_model`,
  :func:`model_to_images`); one channel there is a grey image in the stores.

Image sets from files (``cifar10``, ``celebahq``) are read from a local ``path`` given in the
config; nothing is ever downloaded. A missing or malformed source raises
:class:`DatasetSourceError` naming the data set, the configured path, the expected format and
where to get it.

Adding a data set kind is one builder in ``BUILDERS`` plus a schema entry.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import tarfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.errors import UserError
from mfgstudy.kinds import IMAGE_KINDS, data_kind  # noqa: F401  (data_kind: re-exported)


def _mixture_vars(weights, means, covs) -> dict:
    return {
        "mix_weight": (("component",), np.asarray(weights, dtype=np.float64)),
        "mix_mean": (("component", "dim"), np.asarray(means, dtype=np.float64)),
        "mix_cov": (("component", "dim", "dim_"), np.asarray(covs, dtype=np.float64)),
    }


def _sample_mixture(rng: np.random.Generator, weights, means, covs, n: int) -> np.ndarray:
    comp = rng.choice(len(weights), size=n, p=np.asarray(weights) / np.sum(weights))
    chol = np.linalg.cholesky(np.asarray(covs))
    z = rng.standard_normal((n, np.asarray(means).shape[1]))
    return np.asarray(means)[comp] + np.einsum("nij,nj->ni", chol[comp], z)


def _points(x_train: np.ndarray, x_test: np.ndarray, extra: dict | None = None) -> xr.Dataset:
    data = {
        "x_train": (("sample", "dim"), x_train.astype(np.float32)),
        "x_test": (("test_sample", "dim"), x_test.astype(np.float32)),
        **(extra or {}),
    }
    return xr.Dataset(data, attrs={"data_kind": "points"})


def build_gaussian(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    mean, cov = np.asarray(spec["mean"], float), np.asarray(spec["cov"], float)
    if cov.shape != (mean.size, mean.size) or np.any(np.linalg.eigvalsh(cov) <= 0):
        raise ValueError(
            f"gaussian: cov must be a symmetric positive-definite {mean.size}x{mean.size}"
        )
    w, m, c = [1.0], mean[None], cov[None]
    x_train = _sample_mixture(rng, w, m, c, spec["n_train"])
    x_test = _sample_mixture(rng, w, m, c, spec["n_test"])
    return _points(x_train, x_test, _mixture_vars(w, m, c))


def build_gaussian_mixture(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    k, r, s = int(spec["n_modes"]), float(spec["radius"]), float(spec["std"])
    angles = 2 * np.pi * np.arange(k) / k
    means = r * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    covs = np.repeat((s**2 * np.eye(2))[None], k, axis=0)
    w = np.full(k, 1.0 / k)
    x_train = _sample_mixture(rng, w, means, covs, spec["n_train"])
    x_test = _sample_mixture(rng, w, means, covs, spec["n_test"])
    return _points(x_train, x_test, _mixture_vars(w, means, covs))


def build_dirac(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    """All mass at one point (the PDE paper's Theorem 2): a Gaussian with zero covariance, whose
    diffused law N(alpha x0, sigma^2 I) and score are exact for every t > 0."""
    point = np.asarray(spec["point"], float)
    w, m, c = [1.0], point[None], np.zeros((1, point.size, point.size))
    x_train = np.repeat(m, spec["n_train"], axis=0)
    x_test = np.repeat(m, spec["n_test"], axis=0)
    return _points(x_train, x_test, _mixture_vars(w, m, c))


def sample_checkerboard(rng: np.random.Generator, n: int, cells: int, half_width: float):
    """Uniform law on the 'black' cells of a cells x cells board on [-half_width, half_width]^2."""
    side = 2 * half_width / cells
    black = [(i, j) for i in range(cells) for j in range(cells) if (i + j) % 2 == 0]
    pick = rng.integers(len(black), size=n)
    ij = np.asarray(black)[pick]
    return -half_width + side * (ij + rng.random((n, 2)))


def build_checkerboard(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    cells, hw = int(spec["cells"]), float(spec["half_width"])
    x_train = sample_checkerboard(rng, spec["n_train"], cells, hw)
    x_test = sample_checkerboard(rng, spec["n_test"], cells, hw)
    ds = _points(x_train, x_test)
    ds.attrs.update(cells=cells, half_width=hw)
    return ds


def build_digits(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    """scikit-learn's bundled 8x8 digits (values 0..16), stored as uint8 0..255 with a split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    order = rng.permutation(len(images))
    n_test = int(round(spec["test_fraction"] * len(images)))
    test_index, train_index = np.sort(order[:n_test]), np.sort(order[n_test:])
    ds = xr.Dataset(
        {
            "images_train": (("sample", "row", "col"), images[train_index]),
            "labels_train": (("sample",), labels[train_index]),
            "train_index": (("sample",), train_index),
            "images_test": (("test_sample", "row", "col"), images[test_index]),
            "labels_test": (("test_sample",), labels[test_index]),
            "test_index": (("test_sample",), test_index),
        },
        attrs={"data_kind": "images", "source": "sklearn.datasets.load_digits", "n_classes": 10},
    )
    return ds


# --- image sets from local files -------------------------------------------------------------
GREY_DIMS = ("row", "col")
RGB_DIMS = ("row", "col", "channel")


def image_dims(images: np.ndarray, sample_dim: str = "sample") -> tuple[str, ...]:
    """The store dims of uint8 images: ``(sample, row, col)`` grey, ``(..., channel)`` colour."""
    if images.ndim == 3:
        return (sample_dim, *GREY_DIMS)
    if images.ndim == 4:
        return (sample_dim, *RGB_DIMS)
    raise ValueError(f"images must be (n, h, w) or (n, h, w, c), got shape {images.shape}")


def _image_store(
    train: np.ndarray,
    test: np.ndarray,
    train_index: np.ndarray,
    test_index: np.ndarray,
    attrs: dict,
    labels: tuple[np.ndarray, np.ndarray] | None = None,
) -> xr.Dataset:
    """An image store: the train and test images (with their labels, if any) and their indices
    into the source set."""
    data = {
        "images_train": (image_dims(train), train),
        "train_index": (("sample",), np.asarray(train_index, dtype=np.int64)),
        "images_test": (image_dims(test, "test_sample"), test),
        "test_index": (("test_sample",), np.asarray(test_index, dtype=np.int64)),
    }
    if labels is not None:
        data["labels_train"] = (("sample",), np.asarray(labels[0], dtype=np.int64))
        data["labels_test"] = (("test_sample",), np.asarray(labels[1], dtype=np.int64))
    return xr.Dataset(data, attrs={"data_kind": "images", **attrs})


class DatasetSourceError(UserError, OSError):
    """The local source files of an image data set are missing or not in the expected format."""

    def __init__(self, dataset: str, path, problem: str, expected: str, where: str):
        self.dataset, self.path = dataset, str(path)
        super().__init__(
            f"data set {dataset!r}: {problem} at the configured path {self.path!r} "
            f"(datasets.{dataset}.path). Expected {expected}. {where} Nothing is downloaded: "
            "fetch it yourself and set the path."
        )


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_DIR = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = "test_batch"
CIFAR10_EXPECTED = (
    f"the CIFAR-10 python version: the tarball cifar-10-python.tar.gz (or its extracted folder "
    f"{CIFAR10_DIR}/) holding {', '.join(CIFAR10_TRAIN)} and {CIFAR10_TEST}, each a pickled "
    "dict with b'data' (10000 x 3072 uint8, R, G then B planes of 32 x 32) and b'labels'"
)
CIFAR10_WHERE = f"Get it from {CIFAR10_URL} (the python version, not the binary or MATLAB one)."

CELEBAHQ_SUFFIXES = (".png", ".jpg", ".jpeg")
CELEBAHQ_EXPECTED = (
    "CelebA-HQ images: a folder (searched recursively) or a .zip of .png/.jpg/.jpeg files, "
    "read in sorted file-name order, e.g. the 30000 faces at 256 x 256"
)
CELEBAHQ_WHERE = (
    "Make it with the progressive-GAN repository's dataset_tool.py "
    "(https://github.com/tkarras/progressive_growing_of_gans, create_celebahq) or take the "
    "Kaggle data set 'celebahq-resized-256x256' "
    "(https://www.kaggle.com/datasets/badasstechie/celebahq-resized-256x256)."
)


# Size caps on what is read from the local sources, checked on the sizes the archive (or the file
# system) declares before anything is decompressed into memory, so that a damaged or hostile
# archive is refused with a DatasetSourceError instead of exhausting memory. Generous but finite:
CIFAR10_MAX_MEMBER_BYTES = 256 * 2**20  # per batch file: a CIFAR-10 batch is ~31 MB (10000 x 3072)
CIFAR10_MAX_TOTAL_BYTES = 2 * 2**30  # every member of the tarball together: the real one ~178 MB
CIFAR10_MAX_MEMBERS = 1000  # entries of the tarball: the real one has 8
CELEBAHQ_MAX_FILE_BYTES = 64 * 2**20  # per image file: a 1024 x 1024 CelebA-HQ PNG is a few MB
CELEBAHQ_MAX_TOTAL_BYTES = 256 * 2**30  # the images read, together: 30000 at 1024 are ~90 GB
CELEBAHQ_MAX_PIXELS = 4096 * 4096  # decoded size per image: CelebA-HQ is at most 1024 x 1024
# a zip member larger than ZIP_RATIO_FLOOR bytes may expand at most ZIP_MAX_RATIO times: PNG and
# JPEG are compressed already (about 1x in a zip), a zip bomb expands by 100x-1000x
ZIP_MAX_RATIO, ZIP_RATIO_FLOOR = 100, 2**20
_FIX = "a damaged copy or a decompression bomb: replace it with a genuine copy"


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only (the CIFAR-10 batches: Python 2
    pickles, read with ``encoding="bytes"``), nothing that could run code."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in a protocol-2 pickle written by Python 3
    }

    def find_class(self, module: str, name: str):
        if module.startswith("numpy.core."):  # written by numpy < 2: the same in numpy._core
            module = "numpy._core." + module[len("numpy.core.") :]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def _cifar_error(name: str, path: Path, problem: str) -> DatasetSourceError:
    return DatasetSourceError(name, path, problem, CIFAR10_EXPECTED, CIFAR10_WHERE)


def _cifar_files(path: Path, name: str) -> dict[str, bytes]:
    """The raw bytes of the CIFAR-10 batch files, by base name, from the tarball (read in
    memory, nothing extracted to disk) or the extracted folder."""
    wanted = {*CIFAR10_TRAIN, CIFAR10_TEST}
    if not path.exists():
        raise _cifar_error(name, path, "no such file or folder")
    found: dict[str, bytes] = {}

    def too_big(what: str, size: int) -> DatasetSourceError:
        problem = (
            f"{what} declares {size} bytes, over the cap of {CIFAR10_MAX_MEMBER_BYTES} bytes "
            f"per batch file (a CIFAR-10 batch is about 31 MB); {_FIX}"
        )
        return _cifar_error(name, path, problem)

    if path.is_dir():
        folder = path / CIFAR10_DIR if (path / CIFAR10_DIR).is_dir() else path
        for w in sorted(wanted):
            if (folder / w).is_file():
                if (size := (folder / w).stat().st_size) > CIFAR10_MAX_MEMBER_BYTES:
                    raise too_big(f"batch file {str(folder / w)!r}", size)
                found[w] = (folder / w).read_bytes()
    else:
        try:
            with tarfile.open(path, "r:*") as tar:
                total = 0
                for i, member in enumerate(tar):  # sizes as declared, checked before reading
                    base = member.name.rsplit("/", 1)[-1]
                    read = member.isfile() and base in wanted and base not in found
                    if read and member.size > CIFAR10_MAX_MEMBER_BYTES:
                        raise too_big(f"member {member.name!r} of the tar archive", member.size)
                    total += member.size
                    if i >= CIFAR10_MAX_MEMBERS or total > CIFAR10_MAX_TOTAL_BYTES:
                        problem = (
                            f"the tar archive holds more than {CIFAR10_MAX_MEMBERS} members or "
                            f"{CIFAR10_MAX_TOTAL_BYTES} bytes (at member {member.name!r}; the "
                            f"real one: 8 members, ~178 MB); {_FIX}"
                        )
                        raise _cifar_error(name, path, problem)
                    if read:
                        found[base] = tar.extractfile(member).read()
        except DatasetSourceError:
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise _cifar_error(name, path, f"not a readable tar archive ({e})") from e
    missing = sorted(wanted - set(found))
    if missing:
        raise _cifar_error(name, path, f"missing batch files {missing}")
    return found


def _cifar_batch(raw: bytes, batch: str, fail) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (n, 32, 32, 3) channel-last and int64 labels (n,)."""
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(d[b"data"])
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as e:  # unpickling, a missing key, ...: not a CIFAR-10 batch
        raise fail(f"{batch} is not a CIFAR-10 python pickle ({type(e).__name__}: {e})") from e
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise fail(f"{batch} holds b'data' {data.dtype} {data.shape}, not n x 3072 uint8")
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
        raise fail(f"{batch} holds labels {labels.shape} for {len(data)} images, or not in 0..9")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def build_cifar10(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    """CIFAR-10 from the local python-version tarball (or its extracted folder): train =
    data_batch_1..5 in file order, test = test_batch; ``n_train`` / ``n_test`` (None: all) keep
    the first images of each. uint8 (sample, row, col, channel) RGB with labels 0..9."""
    name, path = spec.get("name", "cifar10"), Path(spec["path"]).expanduser()
    found = _cifar_files(path, name)

    def fail(problem: str) -> DatasetSourceError:
        return _cifar_error(name, path, problem)

    parts = [_cifar_batch(found[b], b, fail) for b in CIFAR10_TRAIN]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = _cifar_batch(found[CIFAR10_TEST], CIFAR10_TEST, fail)
    n_tr, n_te = spec.get("n_train"), spec.get("n_test")
    train_index = np.arange(len(x_train) if n_tr is None else min(int(n_tr), len(x_train)))
    test_index = np.arange(len(x_test) if n_te is None else min(int(n_te), len(x_test)))
    attrs = {"n_classes": 10, "source": f"CIFAR-10 python version ({path})",
             "source_url": CIFAR10_URL, "test_split": CIFAR10_TEST}  # fmt: skip
    labels = (y_train[train_index], y_test[test_index])
    return _image_store(x_train[train_index], x_test[test_index], train_index, test_index, attrs,
                        labels)  # fmt: skip


def _celebahq_images(path: Path, name: str, res: int, n_max) -> tuple[np.ndarray, int]:
    """uint8 (n, res, res, 3) RGB images from a folder (recursive) or zip, in sorted name order
    (the first ``n_max`` when given), and how many were resized."""
    from PIL import Image
    from tqdm import tqdm

    def fail(problem: str):
        return DatasetSourceError(name, path, problem, CELEBAHQ_EXPECTED, CELEBAHQ_WHERE)

    def is_image(n: str) -> bool:
        return n.lower().endswith(CELEBAHQ_SUFFIXES)

    if not path.exists():
        raise fail("no such file or folder")
    with contextlib.ExitStack() as stack:
        if path.is_dir():
            files = sorted(
                p.relative_to(path).as_posix()
                for p in path.rglob("*")
                if p.is_file() and is_image(p.name)
            )

            def read(f: str) -> bytes:
                return (path / f).read_bytes()

            def sizes(f: str) -> tuple[int, int | None]:  # (size, compressed size in a zip)
                return (path / f).stat().st_size, None

            where = "image file"
        else:
            try:
                zf = stack.enter_context(zipfile.ZipFile(path))
            except (zipfile.BadZipFile, OSError) as e:
                raise fail(f"neither a folder nor a readable zip archive ({e})") from e
            infos = {i.filename: i for i in zf.infolist()}
            files = sorted(n for n in infos if not n.endswith("/") and is_image(n))
            read = zf.read

            def sizes(f: str) -> tuple[int, int | None]:
                return infos[f].file_size, infos[f].compress_size

            where = "zip member"
        if not files:
            raise fail("no .png/.jpg/.jpeg images")
        files = files if n_max is None else files[: int(n_max)]
        total = 0
        for f in files:  # the declared sizes, before anything is read
            size, packed = sizes(f)
            total += size
            if size > CELEBAHQ_MAX_FILE_BYTES:
                raise fail(
                    f"{where} {f!r} declares {size} bytes, over the cap of "
                    f"{CELEBAHQ_MAX_FILE_BYTES} bytes per image (a CelebA-HQ image is a few MB "
                    f"at most); {_FIX}"
                )
            if packed is not None and size > ZIP_RATIO_FLOOR and size > ZIP_MAX_RATIO * packed:
                raise fail(
                    f"{where} {f!r} expands {packed} -> {size} bytes, over {ZIP_MAX_RATIO}x "
                    f"(PNG and JPEG images barely compress in a zip); {_FIX}"
                )
            if total > CELEBAHQ_MAX_TOTAL_BYTES:
                raise fail(
                    f"the images up to {f!r} declare more than {CELEBAHQ_MAX_TOTAL_BYTES} bytes "
                    f"together (30000 CelebA-HQ faces at 1024 x 1024 are ~90 GB); {_FIX}, or "
                    "set n_max"
                )
        images = np.empty((len(files), res, res, 3), dtype=np.uint8)
        n_resized = 0
        for i, f in enumerate(tqdm(files, desc=f"reading {name}", mininterval=10.0)):
            try:
                with warnings.catch_warnings():  # PIL warns of a bomb first, raises at 2x
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(io.BytesIO(read(f))) as img:  # reads the header only
                        if img.width * img.height > CELEBAHQ_MAX_PIXELS:
                            raise fail(
                                f"image {f!r} is {img.width} x {img.height} pixels, over the cap "
                                f"of {CELEBAHQ_MAX_PIXELS} pixels per image (CelebA-HQ images "
                                f"are at most 1024 x 1024); {_FIX}"
                            )
                        img = img.convert("RGB")
                        if img.size != (res, res):
                            img = img.resize((res, res), Image.Resampling.LANCZOS)
                            n_resized += 1
                        images[i] = np.asarray(img)
            except DatasetSourceError:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise fail(f"image {f!r} is a decompression bomb ({e}); {_FIX}") from e
            except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
                raise fail(f"unreadable image {f!r} ({e})") from e
    return images, n_resized


def build_celebahq(spec: dict, rng: np.random.Generator) -> xr.Dataset:
    """CelebA-HQ from a local folder or zip of images, unconditional (no labels): images in
    sorted file order (the first ``n_max`` when given), converted to RGB and resized to
    ``resolution`` (default 256) with PIL's Lanczos filter where their size differs; a random
    ``test_fraction`` (default 0.1, drawn with ``seed``) is held out as the test split.
    uint8 (sample, row, col, channel) RGB."""
    name, path = spec.get("name", "celebahq"), Path(spec["path"]).expanduser()
    res = int(spec.get("resolution", 256))
    frac = float(spec.get("test_fraction", 0.1))
    if res < 8:
        raise ValueError(f"{name}: resolution must be at least 8, got {res}")
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"{name}: test_fraction must lie in [0, 1), got {frac}")
    images, n_resized = _celebahq_images(path, name, res, spec.get("n_max"))
    order = rng.permutation(len(images))
    n_test = int(round(frac * len(images)))
    test_index, train_index = np.sort(order[:n_test]), np.sort(order[n_test:])
    attrs = {"source": f"CelebA-HQ images ({path})", "resolution": res, "n_files": len(images),
             "n_resized": n_resized, "resize": "PIL LANCZOS where the size differs"}  # fmt: skip
    return _image_store(images[train_index], images[test_index], train_index, test_index, attrs)


BUILDERS = {
    "gaussian": build_gaussian,
    "gaussian_mixture": build_gaussian_mixture,
    "checkerboard": build_checkerboard,
    "dirac": build_dirac,
    "digits": build_digits,
    "cifar10": build_cifar10,
    "celebahq": build_celebahq,
}


def build_dataset(spec: dict) -> xr.Dataset:
    kind = spec["kind"]
    if kind not in BUILDERS:
        raise ValueError(f"unknown dataset kind {kind!r}; choose from {sorted(BUILDERS)}")
    rng = np.random.default_rng(int(spec["seed"]))
    ds = BUILDERS[kind](spec, rng)
    ds.attrs["dataset_kind"] = kind
    return ds


def prepare(spec: dict, out: str) -> None:
    """The prepare_data job: build the data set and write its store."""
    import logging
    import time

    from mfgstudy.store import write_store

    t0 = time.time()
    ds = build_dataset(spec)
    write_store(ds, out, spec, spec["seed"], t0, {"dataset": spec["name"]})
    shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in ds.items())
    logging.getLogger(__name__).info("wrote %s (%s)", out, shapes)


# --- loading in model space ------------------------------------------------------------------
def images_to_model(images: np.ndarray) -> torch.Tensor:
    """uint8 images to float32 model space in [-1, 1]: grey (n, h, w) -> (n, 1, h, w), colour
    (n, h, w, c) -> (n, c, h, w)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4:
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    else:
        raise ValueError(f"images must be (n, h, w) or (n, h, w, c), got shape {images.shape}")
    return torch.from_numpy(images).to(torch.float32).div_(127.5).sub_(1.0)


def model_to_images(x: torch.Tensor) -> np.ndarray:
    """float (n, c, h, w) in model space -> uint8, clipped and rounded: (n, h, w) for one channel
    (grey), (n, h, w, c) channel-last otherwise (the store layouts)."""
    if x.dim() != 4:
        raise ValueError(f"model-space images must be (n, c, h, w), got shape {tuple(x.shape)}")
    x = ((x.detach().cpu().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    x = x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)
    return np.ascontiguousarray(x.numpy())


def image_event_shape(images: np.ndarray | xr.DataArray) -> tuple[int, int, int]:
    """The model-space (channels, h, w) of stored uint8 images (n, h, w) or (n, h, w, c)."""
    shape = tuple(images.shape)
    if len(shape) == 3:
        return (1, *shape[1:])
    if len(shape) == 4:
        return (shape[3], shape[1], shape[2])
    raise ValueError(f"images must be (n, h, w) or (n, h, w, c), got shape {shape}")


@dataclass
class Data:
    """A loaded data set: its kind, the store, the training labels (int64, aligned with
    ``train``; labelled image sets only, else None), the training tensor in model space
    (``train``, converted from the store on first use: a CelebA-HQ-256 training set is about
    24 GB as float32, and sampling or evaluating a trained model never needs it) and the exact
    law if known."""

    kind: str  # "points" | "images"
    ds: xr.Dataset
    labels: torch.Tensor | None = None

    @functools.cached_property
    def train(self) -> torch.Tensor:
        if self.kind == "points":
            return torch.from_numpy(self.ds["x_train"].values.astype(np.float32))
        return images_to_model(self.ds["images_train"].values)

    @property
    def n_classes(self) -> int:
        """Number of classes of a labelled data set (0 without labels)."""
        if self.labels is None:
            return 0
        return int(self.ds.attrs.get("n_classes", int(self.labels.max()) + 1))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one training example in model space: (dim,) or (channels, h, w)."""
        if self.kind == "points":
            return tuple(self.ds["x_train"].shape[1:])
        return image_event_shape(self.ds["images_train"])

    @property
    def mixture(self) -> GaussianMixture | None:
        if "mix_weight" not in self.ds:
            return None
        return GaussianMixture(
            torch.from_numpy(self.ds["mix_weight"].values),
            torch.from_numpy(self.ds["mix_mean"].values),
            torch.from_numpy(self.ds["mix_cov"].values),
        )

    @property
    def law(self):
        """The exact data law where it is known, with a closed-form diffused score: the stored
        Gaussian mixture, or the checkerboard's uniform law on its black cells; else None."""
        if self.mixture is not None:
            return self.mixture
        if self.ds.attrs.get("dataset_kind") == "checkerboard":
            from mfgstudy.core.exact import BoxUniform

            return BoxUniform.checkerboard(
                int(self.ds.attrs["cells"]), float(self.ds.attrs["half_width"])
            )
        return None

    def test_points(self) -> np.ndarray:
        return self.ds["x_test"].values.astype(np.float64)


def load_data(ds: xr.Dataset) -> Data:
    """The data set of a store; its training tensor is converted to model space on first use."""
    kind = ds.attrs["data_kind"]
    labels = None
    if kind == "images" and "labels_train" in ds:
        labels = torch.from_numpy(ds["labels_train"].values.astype(np.int64))
    return Data(kind=kind, ds=ds, labels=labels)
