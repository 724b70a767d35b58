"""Image metrics through clean-fid's own reading pipeline, with two feature sources.

* ``inception``: clean-fid's TorchScript Inception (``inception-2015-12-05.pt``, the StyleGAN2-ADA
  translation of TensorFlow's 2015-12-05 Inception) loaded from a local path. Its numbers are
  "FID" and "Inception Score". A missing file raises :class:`InceptionWeightsMissing`; nothing here
  downloads, and nothing falls back to another extractor.
* ``digits``: the pipeline's own digits classifier (penultimate layer; softmax of its logits for
  the score). Its numbers are "FD-digits", "IS-digits", ... and are never called FID / IS.

Images (uint8 ``(n, h, w)`` grey or ``(n, h, w, 3)`` RGB) are written to a temporary PNG folder
and read back by ``cleanfid.fid.get_folder_features`` (mode "clean", ``num_workers=0``):
clean-fid opens each file with PIL, converts it to RGB (a grey digit becomes three equal channels),
resizes it (``custom_fn_resize``) and hands the extractor float ``(B, 3, H, W)`` in [0, 255]. Each
extractor returns ``torch.cat([features, probs], 1)``, so features and class probabilities come
from the same pass and are split by the source's ``feature_dim``. The extractor runs on the device
its network was put on (``digits_source``: the classifier's; ``inception_source(device=...)``);
clean-fid moves each batch there and the features back to the CPU.

What was verified about the TorchScript Inception, and how:

* clean-fid 0.1.35's installed source (``inception_torchscript.InceptionV3W``, ``features.py``,
  ``resize.py``): in mode "clean" images are resized outside the network by
  ``build_resizer("clean")`` (PIL bicubic on float32 channels to 299x299, no quantisation) and the
  features are ``base.layers.forward((x - 128) / 128).view(bs, 2048)`` on that 299x299 float
  [0, 255] batch; ``base = torch.jit.load(path)``. The URL in ``downloads_helper.inception_url``
  is the one quoted in :class:`InceptionWeightsMissing`.
* public code (StyleGAN2-ADA / StyleGAN3 ``metrics/inception_score.py`` and
  ``metrics/metric_utils.py``, and a public port of the weights whose ``forward`` transcribes the
  TorchScript module's decompiled ``forward``), read through a code search:
  ``base.forward(img, return_features=False, use_fp16=False, no_output_bias=False)`` resizes any
  input to 299x299 with ``affine_grid``/``grid_sample``
  (identity at 299), normalises ``(x - 128) / 128``, runs ``self.layers`` and reshapes to
  ``(-1, 2048)``; with ``return_features=True`` it returns those pool features, otherwise
  ``softmax(linear(features, self.output.weight, bias))`` over 1008 classes, the bias left out when
  ``no_output_bias=True``. StyleGAN2-ADA's Inception Score uses ``dict(no_output_bias=True)`` ("to
  match the original implementation") and treats the output as probabilities.

So the Inception extractor here computes, in one pass, exactly clean-fid's "clean" features
(``layers`` on the pre-resized batch) and ``softmax(features @ output.weight.T)``, which is what
``base(x, no_output_bias=True)`` returns for a 299x299 input. Because the decompiled ``forward``
could not be run against the real weights here (no internet), :func:`inception_source` checks this
on the loaded file: on a smooth 299x299 probe it compares the one-pass features and probabilities
with ``base(x, return_features=True)`` and ``base(x, no_output_bias=True)`` and refuses the file if
they differ.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from PIL import Image

from mfgstudy.cleanfid_compat import import_cleanfid
from mfgstudy.device import of
from mfgstudy.errors import UserError
from mfgstudy.metrics.fd import ClassifierFeatures
from mfgstudy.store import file_sha256

INCEPTION_FILENAME = "inception-2015-12-05.pt"
INCEPTION_URL = (
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
    + INCEPTION_FILENAME
)
# sha256 of the file NVIDIA publishes at INCEPTION_URL. Source: k-diffusion pins it beside the same
# URL (https://github.com/crowsonkb/k-diffusion, k_diffusion/evaluation.py at commit 0f9902fc,
# InceptionV3FeatureExtractor: digest = 'f58cb9b6...' checked by utils.download_file); clean-fid
# publishes no checksum. A stand-in (tests) passes only with its own hash given explicitly
# (image_metrics.inception_sha256 in the config, ``sha256=`` here).
INCEPTION_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"
CLEAN_FID_MODE = "clean"
METRICS = ("fd", "is", "precision", "recall", "density", "coverage")
_PROBE_RTOL = 1e-3  # relative L2 tolerance of the one-pass check (float32 grid_sample round-off)


class InceptionWeightsMissing(UserError, FileNotFoundError):
    """clean-fid's TorchScript Inception weights are not at the configured path."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        super().__init__(
            f"Inception weights file {INCEPTION_FILENAME!r} not found at the configured path "
            f"{self.path!r}. FID and Inception Score use clean-fid's TorchScript Inception, which "
            f"this pipeline never downloads and never replaces by another network. Download "
            f"{INCEPTION_URL} on a machine with internet access and copy it to {self.path}."
        )


class InceptionWeightsMismatch(UserError, ValueError):
    """The file at the configured path is not the published Inception (its sha256 differs)."""

    def __init__(self, path: str | Path, expected: str, found: str):
        self.path, self.expected, self.found = str(path), expected, found
        if expected == INCEPTION_SHA256:
            want = f"the published sha256 of clean-fid's {INCEPTION_FILENAME}, {expected}"
            fix = (
                f"Download {INCEPTION_URL} again (a truncated or altered download, or another "
                f"file) and copy it to {self.path}; a deliberate stand-in (tests) needs its own "
                "hash in image_metrics.inception_sha256."
            )
        else:
            want = f"image_metrics.inception_sha256 = {expected}"
            fix = (
                "Set image_metrics.inception_sha256 to the hash of the file you mean to use, or "
                f"remove the key to require clean-fid's published {INCEPTION_FILENAME}."
            )
        super().__init__(f"Inception weights {self.path!r} have sha256 {found}, not {want}. {fix}")


def inception_file(weights_path: str | Path) -> Path:
    """The weights file a configured path names: the path itself, or ``inception-2015-12-05.pt``
    inside it when it is a folder (as clean-fid's own ``InceptionV3W`` takes)."""
    path = Path(weights_path).expanduser()
    return path / INCEPTION_FILENAME if path.is_dir() else path


def check_inception_file(path: str | Path, expected: str | None = None) -> str:
    """The sha256 of the weights file ``path``; raises :class:`InceptionWeightsMismatch` unless
    it is ``expected`` (default: the published :data:`INCEPTION_SHA256`)."""
    expected = (expected or INCEPTION_SHA256).lower()
    found = file_sha256(path)
    if found != expected:
        raise InceptionWeightsMismatch(path, expected, found)
    return found


@dataclass(frozen=True, eq=False)
class FeatureSource:
    """A feature space for image metrics, as clean-fid's custom extractor sees it.

    ``extractor`` maps clean-fid's float ``(B, 3, H, W)`` batch in [0, 255] (after ``fn_resize``)
    to ``cat([features, probs], 1)`` with ``feature_dim`` feature and ``n_classes`` probability
    columns. ``keys`` / ``labels`` name each metric (``METRICS``) for this source.
    """

    key: str
    keys: Mapping[str, str]
    labels: Mapping[str, str]
    extractor: torch.nn.Module
    fn_resize: Callable[[np.ndarray], np.ndarray]
    resize: str
    feature_extractor: str
    feature_dim: int
    n_classes: int
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The distance's human name: "FID" or "FD-digits"."""
        return self.labels["fd"]

    def split(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if out.ndim != 2 or out.shape[1] != self.feature_dim + self.n_classes:
            raise ValueError(
                f"{self.key} extractor returned shape {out.shape}, expected "
                f"(n, {self.feature_dim} features + {self.n_classes} class probabilities)"
            )
        return out[:, : self.feature_dim], out[:, self.feature_dim :]


# --- digits ---------------------------------------------------------------------------------------


class DigitsFeaturesAndProbs(ClassifierFeatures):
    """clean-fid extractor: float (B, 3, H, W) in [0, 255] -> [classifier features, softmax]."""

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch[:, :1].float() / 127.5 - 1.0  # as ClassifierFeatures: grey read as RGB
        feats = self.classifier.features(x)
        probs = torch.softmax(self.classifier(x), dim=1)
        return torch.cat([feats, probs], dim=1)


def _identity(img: np.ndarray) -> np.ndarray:
    return img


def digits_source(classifier: torch.nn.Module, image_size: int = 8) -> FeatureSource:
    """The pipeline's digits classifier as a feature source ("FD-digits", "IS-digits", ...), on
    the classifier's device."""
    extractor = DigitsFeaturesAndProbs(classifier)
    with torch.no_grad():
        probe = torch.zeros(1, 1, image_size, image_size, device=of(classifier))
        feature_dim = int(classifier.features(probe).shape[1])
        n_classes = int(classifier(probe).shape[1])
    return FeatureSource(
        key="digits",
        keys={m: f"{m}_digits" for m in METRICS},
        labels={
            "fd": "FD-digits",
            "is": "IS-digits",
            **{m: f"{m}-digits" for m in METRICS[2:]},
        },
        extractor=extractor,
        fn_resize=_identity,
        resize=f"none (identity custom_fn_resize; native {image_size}x{image_size})",
        feature_extractor=(
            "pipeline digits classifier: penultimate layer (features), softmax of logits (probs)"
        ),
        feature_dim=feature_dim,
        n_classes=n_classes,
    )


# --- Inception ------------------------------------------------------------------------------------


class InceptionFeaturesAndProbs(torch.nn.Module):
    """clean-fid extractor around the TorchScript Inception, mode "clean" (input pre-resized).

    Features: ``base.layers((x - 128) / 128)`` reshaped to (B, 2048), as clean-fid's
    ``InceptionV3W(resize_inside=False)``. Probabilities: ``softmax(features @ output.weight.T)``,
    i.e. ``base(x, no_output_bias=True)`` (StyleGAN2-ADA's Inception Score), from the same pass.
    """

    def __init__(self, base: torch.nn.Module):
        super().__init__()
        self.base = base.eval()

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if tuple(batch.shape[1:]) != (3, 299, 299):
            raise ValueError(
                f"Inception expects (B, 3, 299, 299) after resizing, got {batch.shape}"
            )
        x = batch.float()
        feats = self.base.layers((x - 128) / 128).reshape(x.shape[0], -1)
        logits = torch.nn.functional.linear(feats, self.base.output.weight)
        return torch.cat([feats, torch.softmax(logits, dim=1)], dim=1)


def _check_one_pass(base: torch.nn.Module, extractor: InceptionFeaturesAndProbs, path: Path):
    """The one-pass split equals the module's own ``forward`` on a smooth 299x299 probe."""
    ramp = torch.linspace(0.0, 255.0, 299)
    probe = torch.stack([ramp[None, :].expand(299, 299), ramp[:, None].expand(299, 299)])
    probe = torch.cat([probe, torch.full((1, 299, 299), 128.0)])[None].to(of(base))
    with torch.no_grad():
        out = extractor(probe)
        want_feats = base(probe, return_features=True).reshape(1, -1)
        want_probs = base(probe, no_output_bias=True)
    feats, probs = out[:, : want_feats.shape[1]], out[:, want_feats.shape[1] :]

    def rel(a, b):
        return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b).clamp_min(1e-12))

    if feats.shape != want_feats.shape or probs.shape != want_probs.shape:
        raise ValueError(
            f"{path}: layers/output give features {tuple(feats.shape)} and probabilities "
            f"{tuple(probs.shape)}, forward gives {tuple(want_feats.shape)} and "
            f"{tuple(want_probs.shape)}; is this clean-fid's {INCEPTION_FILENAME}?"
        )
    err_f, err_p = rel(feats, want_feats), rel(probs, want_probs)
    if not (err_f < _PROBE_RTOL and err_p < _PROBE_RTOL):
        raise ValueError(
            f"{path}: base.layers/base.output do not reproduce base(x, return_features=True) / "
            f"base(x, no_output_bias=True) (relative error {err_f:.2e} / {err_p:.2e}); is this "
            f"clean-fid's {INCEPTION_FILENAME}?"
        )
    return int(want_feats.shape[1]), int(want_probs.shape[1])


def inception_source(
    weights_path: str | Path, device: torch.device | str = "cpu", sha256: str | None = None
) -> FeatureSource:
    """clean-fid's TorchScript Inception from ``weights_path`` (the .pt file, or a folder holding
    ``inception-2015-12-05.pt`` as clean-fid's own ``InceptionV3W`` takes), loaded onto
    ``device``. Raises :class:`InceptionWeightsMissing` if absent and
    :class:`InceptionWeightsMismatch` unless its sha256 is ``sha256`` (default: the published
    :data:`INCEPTION_SHA256`), checked before the file is loaded; never downloads."""
    path = inception_file(weights_path)
    if not path.is_file():
        raise InceptionWeightsMissing(path)
    digest = check_inception_file(path, sha256)
    try:
        base = torch.jit.load(str(path), map_location=device).eval()
    except Exception as err:  # a truncated download, an HTML error page, ...
        raise ValueError(
            f"{path} is not a loadable TorchScript file ({err}); download {INCEPTION_URL} again"
        ) from err
    extractor = InceptionFeaturesAndProbs(base)
    feature_dim, n_classes = _check_one_pass(base, extractor, path)
    fid = import_cleanfid()
    return FeatureSource(
        key="inception",
        keys={
            "fd": "fid",
            "is": "inception_score",
            **{m: f"{m}_inception" for m in METRICS[2:]},
        },
        labels={
            "fd": "FID",
            "is": "Inception Score",
            **{m: f"{m}-Inception" for m in METRICS[2:]},
        },
        extractor=extractor,
        fn_resize=fid.build_resizer(CLEAN_FID_MODE),
        resize='clean-fid mode "clean": PIL bicubic on float32 channels to 299x299',
        feature_extractor=(
            f"clean-fid TorchScript Inception {INCEPTION_FILENAME}: pool3 features "
            "(layers on the pre-resized batch), softmax without output bias (probs)"
        ),
        feature_dim=feature_dim,
        n_classes=n_classes,
        provenance={"inception_weights": str(path), "inception_sha256": digest},
    )


# --- extraction -----------------------------------------------------------------------------------


def _write_pngs(images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):  # uint8 (h, w) -> "L", (h, w, 3) -> "RGB"
        Image.fromarray(np.ascontiguousarray(img)).save(folder / f"{i:07d}.png")


def _check_images(images: np.ndarray, source: FeatureSource) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise ValueError(f"images must be (n, h, w) grey or (n, h, w, 3) RGB, got {images.shape}")
    if images.ndim == 4 and source.key == "digits":
        raise ValueError("the digits classifier reads grey images (n, h, w), got RGB")
    if len(images) == 0:
        raise ValueError("no images")
    return images


def extract(
    images: np.ndarray, source: FeatureSource, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, feature_dim)`` and class probabilities ``(n, n_classes)`` of uint8 images,
    read through ``cleanfid.fid.get_folder_features`` (mode "clean", ``num_workers=0``), computed
    on the device of ``source.extractor``."""
    images = _check_images(images, source)
    fid = import_cleanfid()
    with tempfile.TemporaryDirectory(prefix="mfgstudy-features-") as tmp:
        _write_pngs(images, Path(tmp))
        out = fid.get_folder_features(
            tmp,
            model=source.extractor,
            num_workers=0,
            batch_size=batch_size,
            device=of(source.extractor),
            mode=CLEAN_FID_MODE,
            custom_fn_resize=source.fn_resize,
            verbose=False,
        )
    if len(out) != len(images):
        raise RuntimeError(f"clean-fid read {len(out)} of {len(images)} images")
    return source.split(np.asarray(out))


def _statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """clean-fid's mu and sigma (``np.mean(axis=0)``, ``np.cov(rowvar=False)``)."""
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def reference_statistics(images: np.ndarray, source: FeatureSource) -> xr.Dataset:
    """Reference features and their mean / covariance, with the protocol in attrs."""
    feats, _ = extract(images, source)
    if len(feats) < 2:
        raise ValueError("reference statistics need at least 2 images")
    mu, sigma = _statistics(feats)
    return xr.Dataset(
        {
            "features": (("sample", "feature"), feats.astype(np.float32)),
            "mu": (("feature",), mu.astype(np.float64)),
            "sigma": (("feature", "feature_b"), sigma.astype(np.float64)),
        },
        attrs={
            "feature_source": source.key,
            "clean_fid_mode": CLEAN_FID_MODE,
            "feature_extractor": source.feature_extractor,
            "resize": source.resize,
            "n": int(len(feats)),
            **source.provenance,
        },
    )


# --- metrics --------------------------------------------------------------------------------------


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` contiguous splits (StyleGAN2-ADA's
    and Salimans et al.'s formula; ``0 log 0 = 0``). With fewer samples than splits, ``n`` splits
    of one sample each are used (each then scores exactly 1), so pass at least ``splits``
    samples; ``protocol`` records the number of splits actually used."""
    from scipy.special import rel_entr

    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    if n == 0:
        raise ValueError("no probabilities")
    splits = max(1, min(int(splits), n))
    scores = []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        kl = rel_entr(part, py).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def prdc(real: np.ndarray, fake: np.ndarray, nearest_k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) via ``prdc.compute_prdc``."""
    from prdc import compute_prdc

    if min(len(real), len(fake)) <= nearest_k:
        raise ValueError(
            f"PRDC with nearest_k={nearest_k} needs more than {nearest_k} real and generated "
            f"samples, got {len(real)} and {len(fake)}"
        )
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        out = compute_prdc(real_features=real, fake_features=fake, nearest_k=nearest_k)
    return {k: float(v) for k, v in out.items()}


JACKKNIFE_BLOCKS = 20
# the jackknife's cost is one feature_dim^2 matrix square root per block: 64-d digits features
# take milliseconds, 2048-d Inception features seconds each (FID is not given a jackknife sd)
JACKKNIFE_MAX_DIM = 256


def jackknife_sd(statistic, features: np.ndarray, blocks: int = JACKKNIFE_BLOCKS) -> float:
    """The delete-a-block jackknife's standard error of ``statistic(features)`` (Efron & Stein):
    ``blocks`` contiguous blocks of the rows, each left out once. A Fréchet distance is a smooth
    function of the sample's mean and covariance, so its jackknife standard error estimates the
    metric's own spread at this sample size from the one set itself, without repeating an image
    (a bootstrap would, which FD reads as a narrower spread of features) and without disjoint
    real sets of that size (8x8 digits has 1,438 training images). Checked in the tests against
    the spread over independent Gaussian sets; NaN below two rows per block."""
    n = len(features)
    if n < 2 * blocks:
        return float("nan")
    parts = np.array_split(np.arange(n), blocks)
    values = np.array([statistic(np.delete(features, part, axis=0)) for part in parts], float)
    return float(np.sqrt((blocks - 1) / blocks * ((values - values.mean()) ** 2).sum()))


def image_metrics(
    images: np.ndarray,
    source: FeatureSource,
    reference: xr.Dataset,
    nearest_k: int = 5,
    is_splits: int = 10,
) -> dict[str, float]:
    """Fréchet distance (``cleanfid.fid.frechet_distance``), Inception Score and PRDC of generated
    ``images`` against ``reference`` (from :func:`reference_statistics` with the same source).

    Keys are source-labelled (``source.keys``): digits -> fd_digits, is_digits, precision_digits,
    recall_digits, density_digits, coverage_digits; inception -> fid, inception_score,
    precision_inception, recall_inception, density_inception, coverage_inception. A source of
    at most ``JACKKNIFE_MAX_DIM`` features adds FD's jackknife sd on these images (digits:
    fd_digits_sd; :func:`jackknife_sd`). The score uses ``min(is_splits, n)`` splits (see
    :func:`inception_score`)."""
    if reference.attrs.get("feature_source") != source.key:
        raise ValueError(
            f"reference statistics were computed with {reference.attrs.get('feature_source')!r} "
            f"features, not {source.key!r}"
        )
    if reference.sizes["feature"] != source.feature_dim:
        raise ValueError(
            f"reference has {reference.sizes['feature']} features, source {source.feature_dim}"
        )
    fid = import_cleanfid()
    feats, probs = extract(images, source)
    mu, sigma = _statistics(feats)
    mu_ref, sigma_ref = reference["mu"].values, reference["sigma"].values
    fd = fid.frechet_distance(mu, sigma, mu_ref, sigma_ref)
    score, _ = inception_score(probs, is_splits)
    pr = prdc(reference["features"].values, feats, nearest_k)
    out = {source.keys["fd"]: float(fd), source.keys["is"]: score}
    if source.feature_dim <= JACKKNIFE_MAX_DIM:
        fd_of = lambda f: fid.frechet_distance(*_statistics(f), mu_ref, sigma_ref)  # noqa: E731
        out[f"{source.keys['fd']}_sd"] = jackknife_sd(fd_of, feats)
    out.update({source.keys[m]: pr[m] for m in METRICS[2:]})
    return out


def protocol(
    source: FeatureSource,
    n_generated: int,
    reference_split: str,
    *,
    nearest_k: int = 5,
    is_splits: int = 10,
) -> dict:
    """Attributes to record beside every number of :func:`image_metrics` (flat, JSON-able)."""
    from importlib.metadata import version

    return {
        "feature_source": source.key,
        **{f"label_{source.keys[m]}": source.labels[m] for m in METRICS},
        "clean_fid_version": version("clean-fid"),
        "clean_fid_mode": CLEAN_FID_MODE,
        "image_reader": "cleanfid.fid.get_folder_features on PNGs (PIL, converted to RGB)",
        "feature_extractor": source.feature_extractor,
        "resize": source.resize,
        "n_generated": int(n_generated),
        "reference_split": str(reference_split),
        "fd_formula": "cleanfid.fid.frechet_distance(mu, sigma) with np.mean / np.cov",
        "is_formula": "exp(E KL(p(y|x) || p(y))), mean over splits",
        "is_splits": int(min(is_splits, n_generated)),
        "prdc_version": version("prdc"),
        "prdc_nearest_k": int(nearest_k),
        **source.provenance,
    }
