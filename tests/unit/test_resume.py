"""Resumable training (mfgstudy.training.checkpoint.Checkpointer): a run stopped before its
walltime or killed with SIGKILL and rerun ends with the same weights and loss log as an
uninterrupted run, exactly (torch.equal) on the CPU; a checkpoint of another spec or seed is not
resumed (it is moved aside: tests/hostile/test_models.py)."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from mfgstudy.data import prepare
from mfgstudy.jobs import train as train_mod
from mfgstudy.jobs.train import train_job
from mfgstudy.store import load_torch, open_store
from mfgstudy.training.checkpoint import CHECKPOINT_NAME, EXIT_WALLTIME, WalltimeReached

SDE = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3}
NET = {"points": {"kind": "mlp", "width": 16, "depth": 2, "emb_dim": 8}}
DDPM = {
    "sde": SDE,
    "method": {"kind": "ddpm", "net": NET},
    "train": {"steps": 200, "batch_size": 32, "lr": 2e-3, "ema": 0.9, "warmup": 10,
              "log_every": 20},
    "data_kind": "points",
}  # fmt: skip
MFG = {
    "sde": SDE,
    "method": {"kind": "mfg", "net": NET, "value_net": NET, "gamma": 1e-3, "lambda": 1.0},
    "train": {"outer_iters": 4, "time_points": 3, "hjb_batches": 1, "fp_batches": 2,
              "batch_size": 32, "measure_size": 64, "lr": 1e-3, "ema": 0.9},
    "data_kind": "points",
}  # fmt: skip
MFG_ROLLOUT = {
    **MFG,
    "method": {
        **MFG["method"],
        "readings": {"measure_update": "model_rollout", "time_sampling": "fixed"},
    },
}
UNET = {"images": {"kind": "unet", "width": 8, "emb_dim": 8, "n_classes": 10}}
DDPM_DIGITS = {  # class-conditional, with label dropout (drawn from the shared generator)
    "sde": SDE,
    "method": {"kind": "ddpm", "net": UNET},
    "train": {"steps": 12, "batch_size": 16, "lr": 1e-3, "ema": 0.9, "warmup": 2,
              "log_every": 3, "label_dropout": 0.3},
    "data_kind": "images",
}  # fmt: skip
DATA = {"name": "g", "kind": "gaussian", "mean": [0.5, -0.5], "cov": [[1.0, 0.6], [0.6, 0.5]],
        "n_train": 300, "n_test": 10, "seed": 3}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "g.zarr"
    prepare(DATA, str(path))
    return str(path)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "digits.zarr"
    prepare({"name": "digits", "kind": "digits", "test_fraction": 0.2, "seed": 104}, str(path))
    return str(path)


def _job(spec, data, out, ckpt=None, seed=0, **kw):
    train_job(spec, seed, data, str(out / "model.pt"), str(out / "log.zarr"), ckpt, **kw)
    return load_torch(out / "model.pt"), open_store(out / "log.zarr")


def _assert_same(a, b, loss_vars):
    model_a, log_a = a
    model_b, log_b = b
    assert model_a["state_dict"].keys() == model_b["state_dict"].keys()
    for k, v in model_a["state_dict"].items():
        assert torch.equal(v, model_b["state_dict"][k]), k
    for k, v in model_a["extra"].get("value_net", {}).items():
        assert torch.equal(v, model_b["extra"]["value_net"][k]), k
    for var in loss_vars:
        np.testing.assert_array_equal(log_a[var].values, log_b[var].values)
    for c in log_a.coords:
        np.testing.assert_array_equal(log_a[c].values, log_b[c].values)


@pytest.mark.parametrize(
    "spec, every, stops, loss_vars",
    [(DDPM, 25, [37, 130], ["loss", "eps_mse"]),
     (DDPM_DIGITS, 4, [5], ["loss"]),
     (MFG, 2, [1, 3], ["hjb_loss", "fp_loss", "hjb_residual_rms", "score_gap_rms"]),
     (MFG_ROLLOUT, 2, [2], ["fp_loss", "hjb_residual_rms"])],
    ids=["ddpm", "ddpm_conditional_digits", "mfg", "mfg_model_rollout"],
)  # fmt: skip
def test_stopped_and_resumed_run_equals_the_uninterrupted_one(
    spec, every, stops, loss_vars, request, tmp_path, monkeypatch, caplog
):
    """Stops fall between checkpoints and inside a log window (DDPM: steps 37 and 130 with
    checkpoints every 25 and log windows of 20); each resumes from the stop's checkpoint."""
    data = request.getfixturevalue("digits" if spec is DDPM_DIGITS else "data")
    ref = _job(spec, data, tmp_path / "ref")
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "run"
    done = 0
    for stop in stops:
        calls = {"n": 0}

        def time_is_up(self, unit_s, stop=stop, done=done, calls=calls):
            calls["n"] += 1  # one call per step (outer iteration) since the (re)start
            return done + calls["n"] == stop

        monkeypatch.setattr(train_mod.Checkpointer, "time_is_up", time_is_up)
        with pytest.raises(WalltimeReached) as stopped:
            _job(spec, data, out, str(ckpt), checkpoint_every=every, walltime_min=60.0)
        assert stopped.value.code == EXIT_WALLTIME and stopped.value.step == stop
        assert (ckpt / CHECKPOINT_NAME).exists() and not (out / "model.pt").exists()
        done = stop
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="mfgstudy"):
        got = _job(spec, data, out, str(ckpt), checkpoint_every=every)
    unit = "outer iteration" if spec["method"]["kind"] == "mfg" else "step"
    assert f"resuming from checkpoint {ckpt / CHECKPOINT_NAME} at {unit} {stops[-1]}" in caplog.text
    _assert_same(ref, got, loss_vars)
    assert not ckpt.exists()  # removed once the outputs are written


def test_a_real_walltime_stops_with_exit_code_75_and_the_rerun_continues(data, tmp_path, caplog):
    ref = _job(DDPM, data, tmp_path / "ref")
    ckpt, out = tmp_path / "ckpt", tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="mfgstudy"):
        with pytest.raises(SystemExit) as stopped:  # 0.12 s of walltime, no margin
            _job(DDPM, data, out, str(ckpt), walltime_min=0.002, stop_margin_min=0.0)
    assert stopped.value.code == EXIT_WALLTIME
    assert "stopping before the walltime" in caplog.text and "rerun to continue" in caplog.text
    step = load_torch(ckpt / CHECKPOINT_NAME)["step"]
    assert 1 <= step < DDPM["train"]["steps"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mfgstudy"):
        got = _job(DDPM, data, out, str(ckpt))
    assert f"at step {step} of" in caplog.text  # it resumed (a fresh run would also match)
    _assert_same(ref, got, ["loss", "eps_mse"])


@pytest.mark.parametrize("change", ["spec", "seed"])
def test_a_checkpoint_of_another_spec_or_seed_is_not_resumed(
    change, data, tmp_path, monkeypatch, caplog
):
    ckpt, out = tmp_path / "ckpt", tmp_path / "run"
    monkeypatch.setattr(
        train_mod.Checkpointer, "time_is_up", lambda self, unit_s: True
    )  # stop after step 1
    with pytest.raises(WalltimeReached):
        _job(DDPM, data, out, str(ckpt), walltime_min=60.0)
    monkeypatch.undo()
    spec, seed = DDPM, 0
    if change == "spec":
        spec = {**DDPM, "train": {**DDPM["train"], "lr": 1e-3}}
    else:
        seed = 1
    with caplog.at_level(logging.INFO, logger="mfgstudy"):
        got = _job(spec, data, out, str(ckpt), seed=seed)
    assert "was written by another run" in caplog.text and "not resuming" in caplog.text
    assert f"({change} differ" in caplog.text
    if change == "spec":
        assert "train.lr: 0.002 in the checkpoint, 0.001 in this run" in caplog.text
    assert "resuming from" not in caplog.text
    (aside,) = ckpt.glob(f"{CHECKPOINT_NAME}.mismatch-*")  # moved aside, never deleted
    assert f"moved it aside to {aside}" in caplog.text
    _assert_same(_job(spec, data, tmp_path / "ref", seed=seed), got, ["loss"])


def _cli(data, out, ckpt=None):
    cmd = [sys.executable, "-m", "mfgstudy", "train", "--spec", _SPEC_JSON, "--data-path", data,
           "--seed", "0", "--out-model", str(out / "model.pt"), "--out-log",
           str(out / "log.zarr"), "--device", "cpu"]  # fmt: skip
    if ckpt is not None:
        cmd += ["--checkpoint-dir", str(ckpt), "--checkpoint-every", "50"]
    return cmd


_SPEC_JSON = json.dumps({**DDPM, "train": {**DDPM["train"], "steps": 1000, "log_every": 50}})


def test_a_job_killed_with_sigkill_resumes_to_the_uninterrupted_result(data, tmp_path):
    """The real thing: ``python -m mfgstudy train`` killed by SIGKILL once a checkpoint exists,
    then rerun with the same command (what --rerun-incomplete does), ends identical."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["PYTHONUNBUFFERED"] = "1"
    subprocess.run(_cli(data, tmp_path / "ref"), check=True, env=env, capture_output=True)
    ckpt, out = tmp_path / "ckpt", tmp_path / "run"
    proc = subprocess.Popen(_cli(data, out, ckpt), env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (ckpt / CHECKPOINT_NAME).exists():
        assert proc.poll() is None, "the job ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (out / "model.pt").exists()
    step = load_torch(ckpt / CHECKPOINT_NAME)["step"]
    assert step < 1000
    rerun = subprocess.run(_cli(data, out, ckpt), env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming from checkpoint" in rerun.stderr
    resumed_at = int(
        rerun.stderr.split("resuming from checkpoint")[1].split("at step ")[1].split()[0]
    )
    assert resumed_at >= step
    _assert_same(
        (load_torch(tmp_path / "ref" / "model.pt"), open_store(tmp_path / "ref" / "log.zarr")),
        (load_torch(out / "model.pt"), open_store(out / "log.zarr")),
        ["loss", "eps_mse"],
    )
    assert not ckpt.exists()


def test_walltime_without_a_checkpoint_dir_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="need --checkpoint-dir"):
        _job(DDPM, data, tmp_path, None, walltime_min=10.0)


def test_foreach_kernels_give_the_loop_numbers():
    """shared.adam, clip_gradients and ema_update (foreach kernels) give bit for bit the numbers
    of torch's per-parameter loops, so the speed-up leaves every trained model unchanged."""
    import copy

    from mfgstudy.nets import MLP
    from mfgstudy.training import shared

    torch.manual_seed(0)
    nets = [MLP(2, width=16, depth=2, emb_dim=8) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    emas = [copy.deepcopy(n) for n in nets]
    opts = [shared.adam(nets[0].parameters(), 1e-2),
            torch.optim.Adam(nets[1].parameters(), lr=1e-2, foreach=False)]  # fmt: skip
    for step in range(20):
        g = torch.Generator().manual_seed(step)
        x, t = torch.randn(32, 2, generator=g), torch.rand(32, generator=g)
        for k, (net, opt, ema) in enumerate(zip(nets, opts, emas, strict=True)):
            opt.zero_grad()
            (net(x, t) - x).square().sum().backward()
            if k == 0:
                shared.clip_gradients(net.parameters(), 0.5)
                shared.ema_update(ema, net, 0.9)
            else:
                torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5, foreach=False)
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                        pe.lerp_(p, 0.1)
            opt.step()
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(emas[0].state_dict().values(), emas[1].state_dict().values(), strict=True):
        assert torch.equal(a, b)
