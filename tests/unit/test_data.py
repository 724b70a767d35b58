import numpy as np
import pytest

from mfgstudy.data import build_dataset, images_to_model, load_data, model_to_images


def test_gaussian_mixture_stores_its_law():
    ds = build_dataset(
        dict(
            kind="gaussian_mixture", n_modes=8, radius=2.0, std=0.2, n_train=800, n_test=400, seed=1
        )
    )
    assert ds["x_train"].dtype == np.float32 and ds["x_train"].shape == (800, 2)
    assert ds["mix_mean"].shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(ds["mix_mean"].values, axis=1), 2.0)
    data = load_data(ds)
    assert data.kind == "points" and data.mixture is not None and data.event_shape == (2,)


def test_gaussian_rejects_a_bad_covariance():
    with pytest.raises(ValueError, match="positive-definite"):
        build_dataset(
            dict(kind="gaussian", mean=[0, 0], cov=[[1, 2], [2, 1]], n_train=10, n_test=10, seed=0)
        )


def test_checkerboard_points_lie_on_black_cells():
    ds = build_dataset(
        dict(kind="checkerboard", cells=4, half_width=2.0, n_train=2000, n_test=10, seed=0)
    )
    x = ds["x_train"].values
    ij = np.floor((x + 2.0) / 1.0).astype(int)
    assert np.all(np.abs(x) <= 2.0) and np.all(ij.sum(1) % 2 == 0)
    assert load_data(ds).mixture is None


def test_digits_split_is_stored_disjoint_and_complete():
    ds = build_dataset(dict(kind="digits", test_fraction=0.2, seed=3))
    tr, te = ds["train_index"].values, ds["test_index"].values
    assert ds["images_train"].dtype == np.uint8 and ds["images_train"].shape[1:] == (8, 8)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == 1797
    assert ds["images_train"].values.max() == 255
    same = build_dataset(dict(kind="digits", test_fraction=0.2, seed=3))
    np.testing.assert_array_equal(same["test_index"].values, te)


def test_image_model_space_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (5, 8, 8)).astype(np.uint8)
    x = images_to_model(img)
    assert x.shape == (5, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(model_to_images(x), img)
