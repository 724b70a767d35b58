"""Wrong and destroyed model files (issue 13, cases 7 and 8).

Case 7: a model.pt trained for another job (another method here) copied over a job's model is
refused with one error naming the file and the fix, and a truncated model.pt or classifier names
its path. Case 8: a training checkpoint is never deleted on an error: a read that fails for a
reason that may pass (OSError, MemoryError) leaves it in place and names it; a checkpoint of
another run is moved aside and the log says where; one that differs only in a cosmetic key
(``log_every``) is resumed."""

import errno
import json
import logging
import shutil

import pytest
import torch

from mfgstudy.data import load_data, prepare
from mfgstudy.jobs import train as train_mod
from mfgstudy.jobs.train import train_job
from mfgstudy.models import load_classifier, load_net, load_score
from mfgstudy.nets import DigitsClassifier
from mfgstudy.pipeline import specs_units
from mfgstudy.store import load_torch, open_store, save_torch
from mfgstudy.training.checkpoint import CHECKPOINT_NAME, Checkpointer, WalltimeReached

try:
    from mfgstudy.models import ModelMismatchError
except ImportError:  # the code before the checks: the tests fail on their assertions instead

    class ModelMismatchError(Exception):
        pass


SDE = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3}
NET = {"points": {"kind": "mlp", "width": 16, "depth": 2, "emb_dim": 8}}
TRAIN = {"points": {"steps": 3, "batch_size": 16, "lr": 1e-3, "ema": 0.9, "warmup": 1,
                    "log_every": 1}}  # fmt: skip
CONFIG = {  # what specs_units.train_spec / .method_spec read: specs as the workflow builds them
    "sde": SDE,
    "datasets": {"g": {"name": "g", "kind": "gaussian", "mean": [0.5, -0.5],
                       "cov": [[1.0, 0.6], [0.6, 0.5]], "n_train": 64, "n_test": 8, "seed": 3}},
    "methods": {"ddpm": {"kind": "ddpm", "net": NET, "train": TRAIN},
                "edm": {"kind": "edm", "net": NET, "train": TRAIN}},  # the same network
}  # fmt: skip


def _job_spec(method: str) -> dict:
    """What a sample job of ``method`` on "g" reads: the SDE and the method with its train."""
    return {
        "sde": specs_units.method_sde(CONFIG, method),
        "method": specs_units.method_spec(CONFIG, "g", method),
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The data store and two tiny models (DDPM, EDM; same network, seed 0) of the workflow."""
    root = tmp_path_factory.mktemp("models")
    data = root / "g.zarr"
    prepare(CONFIG["datasets"]["g"], str(data))
    models = {}
    for method in ("ddpm", "edm"):
        out = root / method
        models[method] = out / "model.pt"
        train_job(specs_units.train_spec(CONFIG, "g", method), 0, str(data), str(models[method]),
                  str(out / "log.zarr"))  # fmt: skip
    return load_data(open_store(data)), models


# --- case 7: the wrong model -------------------------------------------------------------------
def test_a_model_of_another_method_copied_over_is_refused_naming_the_file(trained, tmp_path):
    data, models = trained
    model = tmp_path / "results" / "models" / "g" / "ddpm" / "seed0" / "model.pt"
    model.parent.mkdir(parents=True)
    shutil.copyfile(models["edm"], model)  # EDM's weights fit DDPM's network: nothing else fails
    with pytest.raises(ModelMismatchError) as err:
        load_score(_job_spec("ddpm"), data, str(model))
    msg = str(err.value)
    assert str(model) in msg and "trained for another job" in msg
    assert 'method.kind: "edm" in the model, "ddpm" in this job' in msg
    assert f"snakemake --forcerun {model}" in msg
    # the job's own model loads; its seed and data set are checked where the caller knows them
    load_net(_job_spec("ddpm"), data, str(models["ddpm"]), seed=0)
    with pytest.raises(ModelMismatchError, match="seed: 0 in the model, 1 in this job"):
        load_net(_job_spec("ddpm"), data, str(models["ddpm"]), seed=1)
    other = data.ds.copy()
    other.attrs = {**data.ds.attrs, "config_hash": "0123456789abcdef"}  # another data set
    other = load_data(other)
    with pytest.raises(ModelMismatchError, match="data store config_hash"):
        load_net(_job_spec("ddpm"), other, str(models["ddpm"]))
    # a cosmetic difference of the training spec (the log cadence) is the same model
    spec = _job_spec("ddpm")
    spec["method"]["train"]["points"]["log_every"] = 50
    load_net(spec, data, str(models["ddpm"]), seed=0)
    spec["method"]["train"]["points"]["lr"] = 0.5
    with pytest.raises(ModelMismatchError, match="train.lr: 0.001 in the model, 0.5 in this job"):
        load_net(spec, data, str(models["ddpm"]))


def test_a_truncated_model_or_classifier_names_its_path(trained, tmp_path):
    data, models = trained
    model = tmp_path / "model.pt"
    blob = models["ddpm"].read_bytes()
    model.write_bytes(blob[: len(blob) // 2])  # a copy cut short
    with pytest.raises(Exception) as err:
        load_net(_job_spec("ddpm"), data, str(model))
    msg = str(err.value)
    assert str(model) in msg and "truncated or damaged archive" in msg
    assert f"snakemake --forcerun {model}" in msg
    clf = tmp_path / "classifier.pt"
    spec = {"width": 4, "feat_dim": 8}
    save_torch({"state_dict": DigitsClassifier(width=4, feat_dim=8).state_dict(),
                "spec": json.dumps(spec)}, clf)  # fmt: skip
    load_classifier(str(clf))
    clf.write_bytes(clf.read_bytes()[:-100])
    with pytest.raises(Exception) as err:
        load_classifier(str(clf))
    assert str(clf) in str(err.value) and "delete it" in str(err.value).lower()
    shutil.copyfile(models["ddpm"], clf)  # a diffusion model where the classifier belongs
    with pytest.raises(Exception) as err:
        load_classifier(str(clf))
    assert str(clf) in str(err.value) and "not a digits classifier" in str(err.value)


# --- case 8: checkpoints are never destroyed ------------------------------------------------
KEY = {"spec": "{}", "seed": 0, "code": "c", "world_size": 1}


def _saved(tmp_path, key=KEY) -> Checkpointer:
    ck = Checkpointer(tmp_path / "ckpt", key)
    ck.save({"step": 7, "net": {"w": torch.arange(3.0)}}, "shared")
    return ck


@pytest.mark.parametrize(
    "error",
    [OSError(errno.EIO, "Input/output error"), MemoryError()],
    ids=["oserror", "memoryerror"],
)
def test_a_checkpoint_that_fails_to_read_stays_and_is_named(error, tmp_path, monkeypatch):
    ck = _saved(tmp_path)
    before = ck.path.read_bytes()

    def failing(*args, **kw):
        raise error

    monkeypatch.setattr(torch, "load", failing)
    with pytest.raises((OSError, MemoryError)) as err:
        ck.load("shared")
    monkeypatch.undo()
    assert ck.path.read_bytes() == before  # still there, untouched
    assert str(ck.path) in str(err.value) and "left in place" in str(err.value)
    assert ck.load("shared")["step"] == 7  # the rerun resumes from it


def test_a_checkpoint_differing_only_in_log_every_is_resumed(tmp_path, monkeypatch, caplog):
    data = str(tmp_path / "g.zarr")
    prepare(CONFIG["datasets"]["g"], data)
    spec = specs_units.train_spec(CONFIG, "g", "ddpm")
    spec["train"] = {**spec["train"], "steps": 30, "log_every": 5}
    ckpt, out = tmp_path / "ckpt", tmp_path / "run"

    def job(spec, out, ckpt=None, **kw):
        train_job(spec, 0, data, str(out / "model.pt"), str(out / "log.zarr"), ckpt, **kw)
        return load_torch(out / "model.pt")

    calls = {"n": 0}

    def time_is_up(self, unit_s):
        calls["n"] += 1
        return calls["n"] == 12  # stop after step 12 (checkpoints every 4: a stop's own)

    monkeypatch.setattr(train_mod.Checkpointer, "time_is_up", time_is_up)
    with pytest.raises(WalltimeReached):
        job(spec, out, str(ckpt), checkpoint_every=4, walltime_min=60.0)
    monkeypatch.undo()
    assert (ckpt / CHECKPOINT_NAME).exists()
    relogged = {**spec, "train": {**spec["train"], "log_every": 3}}  # only the log cadence
    with caplog.at_level(logging.INFO, logger="mfgstudy"):
        got = job(relogged, out, str(ckpt), checkpoint_every=4)
    assert f"resuming from checkpoint {ckpt / CHECKPOINT_NAME} at step 12" in caplog.text
    assert "another run" not in caplog.text
    ref = job(relogged, tmp_path / "ref")  # uninterrupted: the same numbers
    for k, v in ref["state_dict"].items():
        assert torch.equal(v, got["state_dict"][k]), k


@pytest.mark.parametrize("kind", ["mismatch", "corrupt"])
def test_a_checkpoint_of_another_run_is_moved_aside_not_deleted(kind, tmp_path, caplog):
    ck = _saved(tmp_path)
    if kind == "corrupt":
        ck.path.write_bytes(ck.path.read_bytes()[:-40])  # cut short
    before = ck.path.read_bytes()
    run = Checkpointer(ck.path.parent, {**KEY, "seed": 1} if kind == "mismatch" else KEY)
    with caplog.at_level(logging.WARNING, logger="mfgstudy"):
        assert run.load("shared") is None  # the run starts fresh
    aside = sorted(ck.path.parent.glob(f"{CHECKPOINT_NAME}.{kind}-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before  # moved, byte for byte
    assert not ck.path.exists()
    assert f"moved it aside to {aside[0]}" in caplog.text and str(ck.path) in caplog.text
    if kind == "mismatch":
        assert "another run (seed differ" in caplog.text
    else:
        assert "truncated or damaged archive" in caplog.text
    run.save({"step": 1}, "shared")  # the fresh run's checkpoints, then its end
    assert run.load("shared")["step"] == 1 and aside[0].exists()  # tmp cleanup spares it
    other_rank = Checkpointer(ck.path.parent, {**KEY, "seed": 2}, main=False)  # another run
    assert other_rank.load("shared") is None and ck.path.exists()  # reads, never moves
    run.finish()
    assert not ck.path.exists() and aside[0].exists()


# --- issue 24: one flipped byte in a tensor is caught by the archive's CRC ----------------------
def _flip_tensor_byte(path) -> None:
    """Flip one byte inside the first tensor's data of a torch archive, in place (same size)."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size > 0)
    blob = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack(
        "<HH", blob[info.header_offset + 26 : info.header_offset + 30]
    )
    start = info.header_offset + 30 + name_len + extra_len
    blob[start + info.file_size // 2] ^= 0x01
    path.write_bytes(bytes(blob))


def test_a_model_with_one_flipped_tensor_byte_is_refused(trained, tmp_path):
    data, models = trained
    model = tmp_path / "model.pt"
    shutil.copyfile(models["ddpm"], model)
    load_torch(model)  # intact: it loads
    _flip_tensor_byte(model)
    with pytest.raises(Exception) as err:
        load_net(_job_spec("ddpm"), data, str(model))
    msg = str(err.value)
    assert str(model) in msg and "damaged" in msg and "CRC" in msg, msg


def test_a_checkpoint_with_one_flipped_tensor_byte_is_moved_aside(tmp_path, caplog):
    ck = _saved(tmp_path)
    _flip_tensor_byte(ck.path)
    before = ck.path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="mfgstudy"):
        assert Checkpointer(ck.path.parent, KEY).load("shared") is None  # starts fresh
    aside = sorted(ck.path.parent.glob(f"{CHECKPOINT_NAME}.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == before
    assert "damaged" in caplog.text


def test_the_train_job_leaves_subnormal_floats_as_it_found_them(trained):
    """The train job flushes subnormals on the CPU (speed), and restores torch's default when it
    returns: a caller in the same process (these tests, hypothesis) must not inherit it."""
    tiny = torch.tensor([1e-38], dtype=torch.float32) / 100  # 1e-40: a subnormal float32
    assert tiny.item() != 0.0
