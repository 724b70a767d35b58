"""Data-parallel training (torch.distributed, gloo, 2 CPU processes under torchrun).

Exact: with noise that is a function of the data row (tests/unit/ddp_worker.py), two processes
and one process see the same global batches and give the same averaged gradients, parameters and
logged loss to machine precision (float64), for both averaging paths (DDP and the explicit
all-reduce of HJB-SGM), and both ranks hold the same weights.

Statistical: the real job (``torchrun ... -m mfgstudy train``, DDPM, global batch 64, 200 steps)
against one process with batch 64 and the same seed. The runs share initialisation and batches
but not the loss noise (drawn per rank), so their loss curves agree in distribution only.
Tolerance, from 12 single-process seeds on the same problem: the log of a 10-step window mean
has a standard deviation of 0.05-0.18 across seeds, and the mean over the 20 windows of the
difference of two runs' log-losses a standard deviation of 0.045 (largest of 66 pairs: 0.089).
We require |mean difference| < 0.15 (over 3 standard deviations) and every window within 0.6
(the largest window difference over the 66 pairs was 0.54). Measured here: mean -0.043, largest
window 0.22.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mfgstudy.data import prepare
from mfgstudy.jobs.train import train_job
from mfgstudy.store import load_torch, open_store
from mfgstudy.training.distributed import Runtime, local_batch
from mfgstudy.training.fit import fit

HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
SPEC = {
    "sde": {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1e-3},
    "method": {"kind": "ddpm",
               "net": {"points": {"kind": "mlp", "width": 32, "depth": 2, "emb_dim": 16}}},
    "train": {"steps": 200, "batch_size": 64, "lr": 2e-3, "ema": 0.9, "warmup": 10,
              "log_every": 10},
    "data_kind": "points",
}  # fmt: skip
DATA = {"name": "g", "kind": "gaussian", "mean": [0.5, -0.5], "cov": [[1.0, 0.6], [0.6, 0.5]],
        "n_train": 2000, "n_test": 10, "seed": 3}  # fmt: skip

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with gloo is needed",
)


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return {**env, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _torchrun(args, cwd):
    proc = subprocess.run(TORCHRUN + args, cwd=cwd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_two_processes_give_the_single_process_gradients_exactly(tmp_path):
    _torchrun([str(HERE / "ddp_worker.py"), str(tmp_path / "two")], tmp_path)
    spec = importlib.util.spec_from_file_location("ddp_worker", HERE / "ddp_worker.py")
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    worker.main(str(tmp_path / "one"))
    one = torch.load(tmp_path / "one" / "rank0.pt", weights_only=True)
    ranks = [torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for name in worker.METHODS:
        for r, two in enumerate(ranks):
            for key in ("grad", "params"):
                for a, b in zip(one[name][key], two[name][key], strict=True):
                    torch.testing.assert_close(
                        b, a, rtol=1e-12, atol=1e-14, msg=f"{name} {key} rank {r}"
                    )
            torch.testing.assert_close(two[name]["loss"], one[name]["loss"], rtol=1e-12, atol=0)
        for a, b in zip(ranks[0][name]["params"], ranks[1][name]["params"], strict=True):
            assert torch.equal(a, b)  # the ranks stay in sync


def test_the_torchrun_job_matches_one_process_in_distribution(tmp_path):
    data = tmp_path / "g.zarr"
    prepare(DATA, str(data))
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    two = tmp_path / "two"
    # the train rule's command for a job with gpu > 1 (here on CPUs, gloo)
    proc = _torchrun(
        ["-m", "mfgstudy", "train", "--spec", f"@{spec_file}", "--data-path", str(data),
         "--seed", "0", "--out-model", str(two / "model.pt"), "--out-log",
         str(two / "log.zarr"), "--device", "cpu", "--checkpoint-dir", str(tmp_path / "ckpt")],
        tmp_path,
    )  # fmt: skip
    assert "rank 1 of 2 on cpu (gloo)" in proc.stderr
    assert not (tmp_path / "ckpt").exists()
    one = tmp_path / "one"
    train_job(SPEC, 0, str(data), str(one / "model.pt"), str(one / "log.zarr"))
    log_two, log_one = open_store(two / "log.zarr"), open_store(one / "log.zarr")
    assert log_two.attrs["world_size"] == 2 and log_one.attrs["world_size"] == 1
    np.testing.assert_array_equal(log_two["step"].values, log_one["step"].values)
    diff = np.log(log_two["loss"].values) - np.log(log_one["loss"].values)
    assert abs(diff.mean()) < 0.15, diff
    assert np.abs(diff).max() < 0.6, diff
    for log in (log_one, log_two):  # both learn
        assert log["loss"].values[-5:].mean() < 0.5 * log["loss"].values[0]
    assert load_torch(two / "model.pt")["state_dict"].keys() == (
        load_torch(one / "model.pt")["state_dict"].keys()
    )


def test_the_global_batch_must_divide_by_the_number_of_processes():
    assert local_batch(64, 2) == 32
    with pytest.raises(ValueError, match="global batch and must divide by the number of proc"):
        local_batch(65, 2)


def test_mfg_refuses_several_processes():
    from mfgstudy.core.sde import VPSDE
    from mfgstudy.methods.registry import build_method

    net = {"points": {"kind": "mlp", "width": 8, "depth": 1, "emb_dim": 4}}
    method = build_method({"kind": "mfg", "net": net, "value_net": net}, VPSDE())
    with pytest.raises(ValueError, match="Algorithm 1 trains on one device here; set gpus"):
        fit(method, method.build_net("points", (2,)), torch.zeros(8, 2), {}, 0, "points",
                   run=Runtime(world=2))  # fmt: skip
