"""Data sets: build them (``prepare_data``) and load them back in model space.

Stores (``results/data/{name}.zarr``):

* points (2-D laws): ``x_train (sample, dim)`` float32, ``x_test (test_sample, dim)`` float32 (an
  independent draw from the law, used as the reference for W2 and its floor). Gaussian laws and
  Gaussian mixtures also store ``mix_weight (component)``, ``mix_mean (component, dim)`` and
  ``mix_cov (component, dim, dim_)`` so that the exact score is available.
* images: ``images_train (sample, row, col)`` uint8 and ``images_test``, with ``labels_*`` and the
  indices of the split into the source set (``train_index``, ``test_index``).

Adding a data set kind is one builder in ``BUILDERS`` plus a schema entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from mfgstudy.exact import GaussianMixture


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


BUILDERS = {
    "gaussian": build_gaussian,
    "gaussian_mixture": build_gaussian_mixture,
    "checkerboard": build_checkerboard,
    "dirac": build_dirac,
    "digits": build_digits,
}
IMAGE_KINDS = {"digits"}


def data_kind(spec: dict) -> str:
    return "images" if spec["kind"] in IMAGE_KINDS else "points"


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
    """uint8 (n, h, w) -> float32 (n, 1, h, w) in [-1, 1]."""
    return torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)[:, None]


def model_to_images(x: torch.Tensor) -> np.ndarray:
    """float (n, 1, h, w) in model space -> uint8 (n, h, w), clipped."""
    x = ((x[:, 0].clamp(-1, 1) + 1.0) * 127.5).round()
    return x.to(torch.uint8).numpy()


@dataclass
class Data:
    """A loaded data set: its kind, training tensor in model space, the training labels (int64,
    aligned with ``train``; digits only, else None), and the exact law if known."""

    kind: str  # "points" | "images"
    train: torch.Tensor
    ds: xr.Dataset
    labels: torch.Tensor | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes of a labelled data set (0 without labels)."""
        if self.labels is None:
            return 0
        return int(self.ds.attrs.get("n_classes", int(self.labels.max()) + 1))

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

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
            from mfgstudy.exact import BoxUniform

            return BoxUniform.checkerboard(
                int(self.ds.attrs["cells"]), float(self.ds.attrs["half_width"])
            )
        return None

    def test_points(self) -> np.ndarray:
        return self.ds["x_test"].values.astype(np.float64)


def load_data(ds: xr.Dataset) -> Data:
    kind = ds.attrs["data_kind"]
    labels = None
    if kind == "points":
        train = torch.from_numpy(ds["x_train"].values.astype(np.float32))
    else:
        train = images_to_model(ds["images_train"].values)
        if "labels_train" in ds:
            labels = torch.from_numpy(ds["labels_train"].values.astype(np.int64))
    return Data(kind=kind, train=train, ds=ds, labels=labels)
