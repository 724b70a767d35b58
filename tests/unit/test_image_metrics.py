"""Image metrics (FD / IS / PRDC) through clean-fid's reading pipeline, both feature sources.

The digits classifier here has random weights (fixed seed): the tests check the plumbing and the
formulas, not the quality of a trained classifier. The Inception weights are not available offline,
so the Inception path runs on a small TorchScript stand-in saved with ``torch.jit.save`` as
``inception-2015-12-05.pt``: it has the real module's call signature
``forward(img, return_features=False, use_fp16=False, no_output_bias=False)``, its ``layers`` and
``output`` submodules, 2048-d features and softmax over 1008 classes, and resizes any input to
299x299 with ``affine_grid``/``grid_sample`` as the real one does. Its features live in the first
16 of the 2048 coordinates (the rest exactly 0) so that clean-fid's 2048x2048 ``sqrtm`` takes a
few seconds rather than half a minute. Being no copy of the published file, it is loaded with its
own sha256 (``sha256=``, the config's ``image_metrics.inception_sha256``).
"""

import hashlib
import urllib.request

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from mfgstudy.analysis.classifier import predict_proba
from mfgstudy.data import images_to_model
from mfgstudy.metrics.features import (
    INCEPTION_FILENAME,
    INCEPTION_URL,
    InceptionWeightsMissing,
    digits_source,
    extract,
    image_metrics,
    inception_score,
    inception_source,
    prdc,
    protocol,
    reference_statistics,
)
from mfgstudy.nets import DigitsClassifier

DIGITS_KEYS = {
    "fd_digits",
    "fd_digits_sd",
    "is_digits",
    "precision_digits",
    "recall_digits",
    "density_digits",
    "coverage_digits",
}
INCEPTION_KEYS = {
    "fid",
    "inception_score",
    "precision_inception",
    "recall_inception",
    "density_inception",
    "coverage_inception",
}


class FakeInception(nn.Module):
    """Stand-in with the TorchScript Inception's interface (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(48, 16),
            nn.Tanh(),
            nn.ConstantPad1d((0, 2048 - 16), 0.0),
            nn.Unflatten(1, (2048, 1, 1)),
        )
        self.output = nn.Linear(2048, 1008)

    def forward(
        self,
        img: torch.Tensor,
        return_features: bool = False,
        use_fp16: bool = False,
        no_output_bias: bool = False,
    ) -> torch.Tensor:
        bs, channels = img.shape[0], img.shape[1]
        x = img.to(torch.float32)
        theta = torch.eye(2, 3).unsqueeze(0).repeat(bs, 1, 1)
        grid = F.affine_grid(theta, [bs, channels, 299, 299], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        features = self.layers((x - 128.0) / 128.0).reshape(-1, 2048)
        if return_features:
            return features
        if no_output_bias:
            logits = F.linear(features, self.output.weight)
        else:
            logits = self.output(features)
        return torch.softmax(logits, 1)


class BiasAlways(FakeInception):
    """A module whose forward ignores no_output_bias: the one-pass check must refuse it."""

    def forward(
        self,
        img: torch.Tensor,
        return_features: bool = False,
        use_fp16: bool = False,
        no_output_bias: bool = False,
    ) -> torch.Tensor:
        features = self.layers((F.interpolate(img, size=(299, 299)) - 128.0) / 128.0)
        features = features.reshape(-1, 2048)
        if return_features:
            return features
        return torch.softmax(self.output(features), 1)


def _save_script(module: nn.Module, folder) -> str:
    torch.manual_seed(0)
    module = module.eval()
    with torch.no_grad():
        module.output.weight.mul_(30.0)  # sharper class probabilities than the default init
        module.output.bias.uniform_(-3.0, 3.0)
    path = folder / INCEPTION_FILENAME
    torch.jit.save(torch.jit.script(module), str(path))
    return str(path)


def stand_in_source(path):
    """The stand-in loaded as Inception, with its own hash in place of the published one."""
    with open(path, "rb") as f:
        return inception_source(path, sha256=hashlib.sha256(f.read()).hexdigest())


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return np.round(d.images * (255.0 / 16.0)).astype(np.uint8)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)  # random weights: plumbing and formulas, not a trained classifier
    return DigitsClassifier(width=8, feat_dim=16).eval()


@pytest.fixture(scope="module")
def digits_src(net):
    return digits_source(net)


@pytest.fixture(scope="module")
def fake_weights(tmp_path_factory):
    torch.manual_seed(0)
    return _save_script(FakeInception(), tmp_path_factory.mktemp("inception"))


# --- digits ---------------------------------------------------------------------------------------


def test_extract_reads_images_in_order_through_cleanfid(digits_src, net, digits):
    imgs = digits[:50]
    feats, probs = extract(imgs, digits_src)
    with torch.no_grad():
        want = net.features(images_to_model(imgs)).numpy()
    np.testing.assert_allclose(feats, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(probs, predict_proba(net, imgs), rtol=1e-5, atol=1e-6)
    assert feats.shape == (50, 16) and probs.shape == (50, 10)


def test_fd_digits_self_is_zero_and_a_brightened_set_is_far(digits_src, digits):
    a, b = digits[:200], digits[200:400]
    brighter = np.clip(a.astype(int) + 60, 0, 255).astype(np.uint8)
    ref = reference_statistics(a, digits_src)
    assert ref["features"].dims == ("sample", "feature")
    assert ref["sigma"].dims == ("feature", "feature_b")
    assert ref.attrs["n"] == 200 and ref.attrs["clean_fid_mode"] == "clean"
    same = image_metrics(a, digits_src, ref)
    other = image_metrics(b, digits_src, ref)
    shifted = image_metrics(brighter, digits_src, ref)
    assert set(same) == DIGITS_KEYS
    assert abs(same["fd_digits"]) < 1e-6
    assert shifted["fd_digits"] > 5 * other["fd_digits"] > 0
    assert same["precision_digits"] == same["recall_digits"] == same["coverage_digits"] == 1.0
    assert 1.0 <= same["is_digits"] <= 10.0


def test_digits_protocol_labels_are_never_fid(digits_src):
    attrs = protocol(digits_src, n_generated=5, reference_split="test", is_splits=10)
    assert attrs["label_fd_digits"] == "FD-digits" and attrs["label_is_digits"] == "IS-digits"
    assert not any(v in ("FID", "Inception Score") for v in attrs.values())
    assert attrs["is_splits"] == 5 and attrs["reference_split"] == "test"
    assert digits_src.label == "FD-digits"


def test_inputs_are_checked(digits_src, digits):
    with pytest.raises(ValueError, match="uint8"):
        extract(digits[:4].astype(np.float32), digits_src)
    with pytest.raises(ValueError, match="grey"):
        extract(np.repeat(digits[:4, :, :, None], 3, axis=3), digits_src)


# --- formulas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 7, 10])
def test_inception_score_closed_forms(k):
    confident = np.eye(k)  # each sample sure of a different class, p(y) uniform: IS = k
    assert inception_score(confident, splits=1)[0] == pytest.approx(k, rel=1e-12)
    same = np.tile(np.random.default_rng(k).dirichlet(np.ones(k)), (3 * k, 1))
    assert inception_score(same, splits=3) == pytest.approx((1.0, 0.0), abs=1e-12)


def test_inception_score_uses_fewer_splits_than_samples():
    assert inception_score(np.eye(4), splits=10) == pytest.approx((1.0, 0.0))  # 4 splits of 1
    assert inception_score(np.tile(np.eye(4), (5, 1)), splits=5)[0] == pytest.approx(4.0)


def test_prdc_of_identical_sets():
    x = np.random.default_rng(0).standard_normal((60, 8)).astype(np.float32)
    out = prdc(x, x.copy(), nearest_k=5)
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
    assert out["density"] > 0
    with pytest.raises(ValueError, match="nearest_k=5"):
        prdc(x[:5], x[:5], nearest_k=5)


# --- Inception ------------------------------------------------------------------------------------


def test_missing_inception_weights_raise_one_clear_error(tmp_path):
    missing = tmp_path / "weights" / INCEPTION_FILENAME
    with pytest.raises(InceptionWeightsMissing) as err:
        inception_source(str(missing))
    msg = str(err.value)
    assert INCEPTION_FILENAME in msg and str(missing) in msg and INCEPTION_URL in msg
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(InceptionWeightsMissing, match="configured path"):
        inception_source(tmp_path)  # a folder without the file


def test_inception_path_with_a_torchscript_stand_in(fake_weights, digits, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("nothing may download")

    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    src = stand_in_source(fake_weights)
    assert (src.feature_dim, src.n_classes) == (2048, 1008) and src.label == "FID"
    imgs = digits[:40]
    ref = reference_statistics(imgs, src)
    assert ref["features"].shape == (40, 2048)
    out = image_metrics(imgs, src, ref, is_splits=4)
    assert set(out) == INCEPTION_KEYS
    assert abs(out["fid"]) < 1e-3
    assert 1.0 <= out["inception_score"] <= 1008.0
    for key in ("precision_inception", "recall_inception", "coverage_inception"):
        assert out[key] == 1.0
    assert out["density_inception"] >= 0
    attrs = protocol(src, 40, "test", is_splits=4)
    assert attrs["label_fid"] == "FID" and attrs["inception_weights"] == fake_weights
    assert len(attrs["inception_sha256"]) == 64


def test_inception_probabilities_are_forward_without_output_bias(fake_weights, digits):
    src = stand_in_source(fake_weights)
    base = torch.jit.load(fake_weights)
    feats, probs = extract(digits[:3], src)
    resized = np.stack([src.fn_resize(np.repeat(im[:, :, None], 3, 2)) for im in digits[:3]])
    x = torch.from_numpy(resized).permute(0, 3, 1, 2)
    with torch.no_grad():
        want_p = base(x, no_output_bias=True).numpy()
        want_f = base(x, return_features=True).numpy()
    np.testing.assert_allclose(probs, want_p, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(feats, want_f, rtol=1e-4, atol=1e-5)


def test_a_module_that_disagrees_with_its_forward_is_refused(tmp_path):
    torch.manual_seed(0)
    path = _save_script(BiasAlways(), tmp_path)
    with pytest.raises(ValueError, match="no_output_bias"):
        stand_in_source(path)


def test_reference_of_another_source_is_refused(digits_src, fake_weights, digits):
    ref = reference_statistics(digits[:20], digits_src)
    with pytest.raises(ValueError, match="'digits' features"):
        image_metrics(digits[:20], stand_in_source(fake_weights), ref)


def _gaussian_fd(rng, n, reference, shift):
    from mfgstudy.cleanfid_compat import import_cleanfid

    fid = import_cleanfid()
    mu, sigma = reference
    x = rng.normal(size=(n, len(mu))) * (1.0 + shift) + shift
    return x, lambda f: float(fid.frechet_distance(f.mean(0), np.cov(f, rowvar=False), mu, sigma))


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_jackknife_sd_of_fd_matches_its_spread_over_independent_sets(shift):
    """The resolution of FD-digits is its jackknife sd on the compared set: on Gaussian features
    (16-d, a fixed reference of 1,000 draws) it must estimate the sd of FD over independent sets
    of the same size, at the law itself (a distance near 0, where FD is all noise and bias) and
    away from it, and err on the safe side (Efron and Stein: the jackknife variance is biased
    upward; at the law, where FD is all noise, by about 40 %). Checked at 300 draws: the mean
    jackknife sd over 10 sets between 0.85 and 1.6 times the sd over 60 sets, each set's within
    a factor 2."""
    from mfgstudy.metrics.features import jackknife_sd

    rng = np.random.default_rng(7)
    ref = rng.normal(size=(1000, 16))
    reference = (ref.mean(0), np.cov(ref, rowvar=False))
    values, sds = [], []
    for i in range(60):
        x, fd = _gaussian_fd(rng, 300, reference, shift)
        values.append(fd(x))
        if i < 10:
            sds.append(jackknife_sd(fd, x))
    truth = np.std(values, ddof=1)
    assert 0.85 < np.mean(sds) / truth < 1.6, (np.mean(sds), truth)
    assert all(truth / 2 < s < 2 * truth for s in sds), (sds, truth)


def test_jackknife_sd_needs_two_rows_per_block():
    from mfgstudy.metrics.features import jackknife_sd

    assert np.isnan(jackknife_sd(lambda f: float(f.sum()), np.ones((39, 2)), blocks=20))
    # a statistic that is the mean: the jackknife reproduces the textbook standard error
    x = np.random.default_rng(0).normal(size=(400, 1))
    se = jackknife_sd(lambda f: float(f.mean()), x, blocks=400 // 2)
    assert np.isclose(se, x.std(ddof=1) / np.sqrt(400), rtol=0.15)
