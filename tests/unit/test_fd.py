"""FD through the real clean-fid code path, with the pipeline's feature extractor."""

import sys

import numpy as np
import pytest
import torch

from mfgstudy.cleanfid_compat import (
    _stub_modules,
    _ToTensor,
    import_cleanfid,
    torchvision_available,
)
from mfgstudy.metrics.fd import ClassifierFeatures, fd_between
from mfgstudy.nets import DigitsClassifier


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    return ClassifierFeatures(DigitsClassifier(width=8, feat_dim=16))


def test_fd_of_a_set_with_itself_is_zero_and_a_shift_is_not(extractor):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 200, (120, 8, 8)).astype(np.uint8)
    b = rng.integers(0, 200, (120, 8, 8)).astype(np.uint8)
    shifted = np.clip(a.astype(int) + 60, 0, 255).astype(np.uint8)
    same, other, shift = (
        fd_between(a, a, extractor),
        fd_between(a, b, extractor),
        fd_between(a, shifted, extractor),
    )
    assert abs(same) < 1e-6
    assert shift > 10 * max(other, 1e-6)


def test_extractor_sees_the_images_it_was_given(extractor):
    """clean-fid hands float (B, 3, H, W) in [0, 255]; the extractor maps back to model space."""
    img = np.random.default_rng(1).integers(0, 255, (4, 8, 8)).astype(np.uint8)
    batch = torch.from_numpy(img).float()[:, None].expand(4, 3, 8, 8)
    want = extractor.classifier.features(torch.from_numpy(img / 127.5 - 1.0).float()[:, None])
    torch.testing.assert_close(extractor(batch), want)


def test_cleanfid_import_leaves_no_torchvision_stand_in():
    import_cleanfid()
    if not torchvision_available():
        assert "torchvision" not in sys.modules


def test_to_tensor_stand_in_matches_torchvision_semantics():
    arr = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    t = _ToTensor()(arr)
    assert t.shape == (3, 2, 3) and t.dtype == torch.float32
    torch.testing.assert_close(t, torch.from_numpy(arr).permute(2, 0, 1).float() / 255)
    f = _ToTensor()(arr.astype(np.float32))
    torch.testing.assert_close(f, torch.from_numpy(arr.astype(np.float32)).permute(2, 0, 1))


def test_inception_blocks_of_the_stand_in_fail_clearly():
    inception = _stub_modules()["torchvision.models.inception"]
    with pytest.raises(RuntimeError, match="torchvision is not installed"):
        inception.InceptionA(192, 32)
