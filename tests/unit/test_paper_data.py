"""The paper-scale image data (CIFAR-10, CelebA-HQ) from tiny stand-ins in their real formats,
the channel-aware image conversions, and the DDPM UNet (shapes, conditioning, preset sizes)."""

import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mfgstudy.data import (
    CIFAR10_URL,
    DatasetSourceError,
    build_dataset,
    image_dims,
    images_to_model,
    load_data,
    model_to_images,
    prepare,
)
from mfgstudy.layout import store_name
from mfgstudy.nets import (
    AttnBlock,
    BalancedLabels,
    Conditioned,
    build_net,
    count_parameters,
    is_conditional,
)
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.store import open_store
from tests.paper_fixtures import GREEN, RED, write_celebahq, write_cifar_tarball

PAPER_CONFIG = Path(__file__).resolve().parents[2] / "workflow" / "configs" / "paper.yaml"

TINY_UNET = {"kind": "ddpm_unet", "ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1,
             "attn_resolutions": [16], "dropout": 0.0}  # fmt: skip


def cifar_spec(path, **kw):
    return {"name": "cifar10", "kind": "cifar10", "path": str(path), "seed": 0, **kw}


def celebahq_spec(path, **kw):
    return {"name": "celebahq", "kind": "celebahq", "path": str(path), "resolution": 16,
            "test_fraction": 0.25, "seed": 1, **kw}  # fmt: skip


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    path = tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz"
    return path, write_cifar_tarball(path, n_per_batch=4)


# --- CIFAR-10 -----------------------------------------------------------------------------------
def test_cifar10_reads_the_tarball_in_rgb_channel_last_order(cifar):
    path, want = cifar
    ds = build_dataset(cifar_spec(path))
    assert ds["images_train"].dims == ("sample", "row", "col", "channel")
    assert ds["images_test"].dims == ("test_sample", "row", "col", "channel")
    assert ds["images_train"].dtype == np.uint8 and ds["images_train"].shape == (20, 32, 32, 3)
    assert ds["images_test"].shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(ds["images_train"].values, want["x_train"])
    np.testing.assert_array_equal(ds["images_test"].values, want["x_test"])
    np.testing.assert_array_equal(ds["labels_train"].values, want["y_train"])
    np.testing.assert_array_equal(ds["labels_test"].values, want["y_test"])
    assert tuple(ds["images_train"].values[0, 5, 7]) == RED  # a red image stays red
    assert tuple(ds["images_test"].values[1, 0, 0]) == GREEN
    assert ds.attrs["n_classes"] == 10 and ds.attrs["data_kind"] == "images"
    np.testing.assert_array_equal(ds["train_index"].values, np.arange(20))


def test_cifar10_in_model_space_is_channels_first(cifar):
    data = load_data(build_dataset(cifar_spec(path=cifar[0])))
    assert data.kind == "images" and data.event_shape == (3, 32, 32) and data.n_classes == 10
    assert data.train.shape == (20, 3, 32, 32) and data.train.dtype == torch.float32
    red = data.train[0]
    assert torch.all(red[0] == 1.0) and torch.all(red[1:] == -1.0)
    assert data.labels.dtype == torch.int64 and len(data.labels) == 20


def test_cifar10_limits_keep_the_first_images(cifar):
    path, want = cifar
    ds = build_dataset(cifar_spec(path, n_train=7, n_test=3))
    np.testing.assert_array_equal(ds["images_train"].values, want["x_train"][:7])
    np.testing.assert_array_equal(ds["labels_test"].values, want["y_test"][:3])


def test_cifar10_reads_the_extracted_folder_alike(cifar, tmp_path):
    path, _ = cifar
    with tarfile.open(path) as tar:
        tar.extractall(tmp_path, filter="data")
    ref = build_dataset(cifar_spec(path))
    for folder in (tmp_path, tmp_path / "cifar-10-batches-py"):
        ds = build_dataset(cifar_spec(folder))
        np.testing.assert_array_equal(ds["images_train"].values, ref["images_train"].values)
        np.testing.assert_array_equal(ds["labels_test"].values, ref["labels_test"].values)


def test_cifar10_missing_file_names_the_data_set_path_format_and_url(tmp_path):
    missing = tmp_path / "nowhere" / "cifar-10-python.tar.gz"
    with pytest.raises(DatasetSourceError) as err:
        build_dataset(cifar_spec(missing))
    msg = str(err.value)
    for part in ("'cifar10'", str(missing), "no such file", "cifar-10-python.tar.gz", CIFAR10_URL,
                 "test_batch", "Nothing is downloaded"):  # fmt: skip
        assert part in msg


def test_cifar10_malformed_sources_are_refused(tmp_path):
    not_tar = tmp_path / "cifar-10-python.tar.gz"
    not_tar.write_bytes(b"this is not a tarball")
    with pytest.raises(DatasetSourceError, match="not a readable tar archive"):
        build_dataset(cifar_spec(not_tar))
    partial = tmp_path / "partial.tar.gz"
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(not_tar, arcname="cifar-10-batches-py/data_batch_1")
    with pytest.raises(DatasetSourceError, match=r"missing batch files \['data_batch_2'"):
        build_dataset(cifar_spec(partial))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": [1, 2], b"labels": [0]}, protocol=2))
    with pytest.raises(DatasetSourceError, match="data_batch_1 holds b.data. .*not n x 3072 uint8"):
        build_dataset(cifar_spec(folder))


def test_cifar10_pickles_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(
        DatasetSourceError, match=r"data_batch_1 is not a CIFAR-10.*refusing to unpickle"
    ):
        build_dataset(cifar_spec(folder))


# --- CelebA-HQ ----------------------------------------------------------------------------------
def test_celebahq_folder_and_zip_give_the_same_store(tmp_path):
    want = write_celebahq(tmp_path / "folder", n=8, size=16)
    write_celebahq(tmp_path / "faces.zip", n=8, size=16, zip=True)
    a = build_dataset(celebahq_spec(tmp_path / "folder"))
    b = build_dataset(celebahq_spec(tmp_path / "faces.zip"))
    for k in ("images_train", "images_test", "train_index", "test_index"):
        np.testing.assert_array_equal(a[k].values, b[k].values)
    assert a["images_train"].dims == ("sample", "row", "col", "channel")
    assert a["images_train"].shape == (6, 16, 16, 3) and a["images_test"].shape == (2, 16, 16, 3)
    assert "labels_train" not in a and a.attrs["n_resized"] == 0
    np.testing.assert_array_equal(a["images_train"].values, want[a["train_index"].values])
    np.testing.assert_array_equal(a["images_test"].values, want[a["test_index"].values])
    assert sorted([*a["train_index"].values, *a["test_index"].values]) == list(range(8))
    data = load_data(a)
    assert data.labels is None and data.n_classes == 0 and data.event_shape == (3, 16, 16)


def test_celebahq_resizes_and_keeps_colours(tmp_path):
    write_celebahq(tmp_path / "faces.zip", n=4, size=24, zip=True)
    ds = build_dataset(celebahq_spec(tmp_path / "faces.zip", test_fraction=0.0, n_max=3))
    assert ds["images_train"].shape == (3, 16, 16, 3) and ds["images_test"].shape == (0, 16, 16, 3)
    assert ds.attrs["n_resized"] == 3 and ds.attrs["resolution"] == 16
    assert np.all(ds["images_train"].values[0] == RED) and np.all(ds["images_train"][1] == GREEN)


def test_celebahq_split_follows_the_seed(tmp_path):
    write_celebahq(tmp_path, n=10, size=16, subdir="")
    a, b = (build_dataset(celebahq_spec(tmp_path, seed=s)) for s in (1, 1))
    c = build_dataset(celebahq_spec(tmp_path, seed=2))
    np.testing.assert_array_equal(a["test_index"].values, b["test_index"].values)
    assert len(c["test_index"]) == 2 == len(a["test_index"])
    assert not np.array_equal(a["test_index"].values, c["test_index"].values)


def test_celebahq_missing_or_empty_sources_are_explained(tmp_path):
    with pytest.raises(DatasetSourceError) as err:
        build_dataset(celebahq_spec(tmp_path / "celeba_hq_256"))
    msg = str(err.value)
    for part in ("'celebahq'", str(tmp_path / "celeba_hq_256"), "no such file", "progressive",
                 "celebahq-resized-256x256", ".zip", "Nothing is downloaded"):  # fmt: skip
        assert part in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetSourceError, match="no .png/.jpg/.jpeg images"):
        build_dataset(celebahq_spec(tmp_path / "empty"))
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetSourceError, match="neither a folder nor a readable zip"):
        build_dataset(celebahq_spec(tmp_path / "bad.zip"))
    with zipfile.ZipFile(tmp_path / "broken.zip", "w") as zf:
        zf.writestr("00000.png", b"not a png")
    with pytest.raises(DatasetSourceError, match="unreadable image '00000.png'"):
        build_dataset(celebahq_spec(tmp_path / "broken.zip"))


# --- conversions --------------------------------------------------------------------------------
def test_rgb_round_trip_and_grey_layout_unchanged():
    rgb = np.random.default_rng(0).integers(0, 256, (3, 5, 6, 3)).astype(np.uint8)
    rgb[0] = RED
    x = images_to_model(rgb)
    assert x.shape == (3, 3, 5, 6) and x.is_contiguous()
    assert torch.all(x[0, 0] == 1) and torch.all(x[0, 1:] == -1)
    np.testing.assert_array_equal(model_to_images(x), rgb)
    assert image_dims(rgb) == ("sample", "row", "col", "channel")
    grey = rgb[..., 0]
    assert images_to_model(grey).shape == (3, 1, 5, 6)
    np.testing.assert_array_equal(model_to_images(images_to_model(grey)), grey)
    assert image_dims(grey, "test_sample") == ("test_sample", "row", "col")
    with pytest.raises(ValueError, match=r"\(n, h, w\) or \(n, h, w, c\)"):
        images_to_model(rgb[0, 0])


def test_digits_store_keeps_its_grey_layout():
    ds = build_dataset({"kind": "digits", "test_fraction": 0.2, "seed": 3})
    assert ds["images_train"].dims == ("sample", "row", "col")
    assert load_data(ds).event_shape == (1, 8, 8)


# --- the DDPM UNet ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 64, 64), (1, 16, 16)])
def test_ddpm_unet_keeps_the_input_shape(shape):
    torch.manual_seed(0)
    net = build_net(TINY_UNET, shape)
    x = torch.randn(2, *shape)
    assert net(x, torch.rand(2)).shape == x.shape
    assert not is_conditional(net)
    with pytest.raises(ValueError, match="unconditional"):
        net(x, torch.rand(2), y=1)


def test_ddpm_unet_is_class_conditional_like_the_tiny_unet():
    torch.manual_seed(0)
    net = build_net({**TINY_UNET, "n_classes": 10}, (3, 32, 32))
    for p in net.parameters():  # the zero-initialised output would hide the labels
        torch.nn.init.normal_(p, std=0.05)
    assert is_conditional(net) and net.null_label == 10 and net.emb_dim == 128
    x, t = torch.randn(4, 3, 32, 32), torch.rand(4)
    y = torch.tensor([0, 1, 2, 3])
    assert not torch.allclose(net(x, t, y=y), net(x, t))
    emb = net.class_embedding(4, y)
    torch.testing.assert_close(net(x, t, y_emb=emb), net(x, t, y=y))
    torch.testing.assert_close(Conditioned(net, y=y)(x, t), net(x, t, y=y))
    torch.testing.assert_close(BalancedLabels(net)(x, t), net(x, t, y=torch.arange(4)))


def test_ddpm_unet_rejects_bad_shapes():
    with pytest.raises(ValueError, match="square"):
        build_net(TINY_UNET, (3, 32, 16))
    with pytest.raises(ValueError, match="not divisible"):
        build_net({**TINY_UNET, "ch_mult": [1, 2, 2, 2]}, (3, 20, 20))


def paper_networks(dataset: str) -> list[dict]:
    """The image networks workflow/configs/paper.yaml gives each method on ``dataset``."""
    config = resolve(PAPER_CONFIG)
    return [m["net"][dataset] for m in config["methods"].values() if dataset in m.get("net", {})]


@pytest.mark.parametrize(
    "dataset, shape, count, paper",
    [
        ("cifar10", (3, 32, 32), 91_668_803, 90e6),
        ("celebahq256", (3, 256, 256), 186_294_787, 200e6),
    ],
)
def test_the_paper_config_networks_have_the_paper_sizes(dataset, shape, count, paper):
    nets = paper_networks(dataset)
    assert len(nets) >= 4 and all(n == nets[0] for n in nets)  # one network for every method
    with torch.device("meta"):  # parameters without storage: no memory, no time
        net = build_net(nets[0], shape)
    assert count_parameters(net) == count and abs(count / paper - 1) < 0.15
    n_attn = sum(isinstance(m, AttnBlock) for m in net.modules())
    nrb = nets[0]["num_res_blocks"]
    assert n_attn == nrb + (nrb + 1) + 1  # at 16 x 16 on the way down and up, and in the middle


# --- end to end through the package API ---------------------------------------------------------
def test_tiny_cifar10_prepares_trains_and_samples_rgb(cifar, tmp_path):
    from mfgstudy.jobs.sample import sample_unit
    from mfgstudy.jobs.train import train_job

    data = str(tmp_path / "data.zarr")
    prepare(cifar_spec(cifar[0], n_train=16, n_test=4), data)
    stored = open_store(data)
    assert stored["images_train"].dims == ("sample", "row", "col", "channel")
    assert tuple(stored["images_train"].values[0, 0, 0]) == RED
    sde = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1.0e-3}
    method = {"kind": "ddpm", "net": {"images": TINY_UNET}}
    train = {"steps": 2, "batch_size": 4, "lr": 1.0e-3, "ema": 0.9, "warmup": 1, "log_every": 1}
    spec = {"sde": sde, "method": method, "train": train, "data_kind": "images"}
    model, log = str(tmp_path / "model.pt"), str(tmp_path / "train_log.zarr")
    train_job(spec, 0, data, model, log)
    assert open_store(log).attrs["n_parameters"] == count_parameters(
        build_net(TINY_UNET, (3, 32, 32))
    )
    sample = {
        "unit": {"sweep": "s", "dataset": "cifar10", "method": "ddpm", "sampler": "ddim",
                 "grid": "uniform"},
        "eps": 0.0, "perturbations": {"none": {"kind": "none"}}, "sde": sde, "method": method,
        "sampler": {"kind": "ddim", "eta": 0.0}, "grid": {"kind": "uniform"}, "steps": [2],
        "reference_steps": None, "n_samples": 4, "batch_size": 10,
    }  # fmt: skip
    out = tmp_path / "samples"
    sample_unit(sample, 0, data, model, str(out))
    s = open_store(out / store_name("none", 2))
    assert s["images"].dims == ("sample", "row", "col", "channel")
    assert s["images"].shape == (4, 32, 32, 3) and s["images"].dtype == np.uint8
    assert s["finite"].values.all()
