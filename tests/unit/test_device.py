"""The job's device (mfgstudy.device) and sampling on it: on the CPU an explicit device changes
no bit; on a GPU (tests skipped without one) the numbers match the CPU's up to floating point."""

from __future__ import annotations

import pytest
import torch

from mfgstudy import device
from mfgstudy.core.adversarial import build_perturbation
from mfgstudy.core.samplers import generate, sample_noise
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.errors import UserError
from mfgstudy.methods.registry import build_method
from mfgstudy.models import load_score
from mfgstudy.nets import BalancedLabels, TinyUNet

SDE = VPSDE()
CPU = torch.device("cpu")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def gaussian_score(x: torch.Tensor, t: float) -> torch.Tensor:
    """Score of the diffused N(0, 4 I): device-agnostic."""
    return -x / (4.0 * float(SDE.alpha(t)) ** 2 + float(SDE.sigma2(t)))


@pytest.fixture
def restore_device():
    saved = device.current()
    yield
    device._current = saved


# --- resolve / configure ------------------------------------------------------------------------
def test_a_bad_name_is_a_value_error():
    with pytest.raises(ValueError, match="auto"):
        device.resolve("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error_and_auto_is_the_cpu():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        device.resolve("cuda")
    assert device.resolve("auto") == CPU


# --- a GPU job without CUDA stops, naming its node and the fix (issue 26) ----------------------
@pytest.fixture
def node_without_cuda(monkeypatch):
    """A node called gpu-node-07 whose torch sees no CUDA device; returns a setter for the
    build (torch.version.cuda) and CUDA_VISIBLE_DEVICES."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device.socket, "gethostname", lambda: "gpu-node-07")

    def node(cuda_build: str | None, visible: str | None = None):
        monkeypatch.setattr(torch.version, "cuda", cuda_build)
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)

    return node


def test_a_gpu_job_with_the_cpu_wheel_names_the_node_and_the_fix(node_without_cuda):
    node_without_cuda(None, "0")  # the scheduler gave a GPU; torch is the CPU wheel
    with pytest.raises(device.NoCudaError) as e:
        device.resolve("cuda")
    msg = str(e.value)
    assert "gpu-node-07" in msg and "CPU wheel" in msg and "resources ask for a GPU" in msg
    assert "make slurm-env TORCH=cuda" in msg and "envs/cuda.yaml" in msg  # the fixes
    assert isinstance(e.value, UserError)  # the CLI reports it as one line, no traceback
    assert device.resolve("auto") == CPU  # a CPU job is not affected


@pytest.mark.parametrize(
    "visible, needle", [("", "gave this job no GPU"), (None, "no NVIDIA driver there")]
)
def test_a_gpu_job_without_a_gpu_says_why(node_without_cuda, visible, needle):
    node_without_cuda("12.8", visible)  # a CUDA build of torch
    with pytest.raises(device.NoCudaError, match="gpu-node-07") as e:
        device.resolve("cuda")
    assert needle in str(e.value) and "Fix:" in str(e.value)


def test_the_cli_stops_a_gpu_job_before_its_work(node_without_cuda, tmp_path, capsys,
                                                 restore_device):  # fmt: skip
    from mfgstudy import cli

    node_without_cuda(None)
    out = tmp_path / "data.zarr"
    spec = '{"name": "x", "kind": "gaussian_mixture"}'
    rc = cli.main(["prepare-data", "--spec", spec, "--out", str(out), "--device", "cuda"])
    assert rc == 1 and not out.exists()  # stopped before the job computed anything
    printed = capsys.readouterr()
    assert "FAILED: --device cuda" in printed.out and "gpu-node-07" in printed.out
    assert "Traceback" not in printed.err


@cuda
def test_auto_takes_the_gpu_when_there_is_one():
    assert device.resolve("auto").type == "cuda" == device.resolve("cuda").type


def test_configure_sets_current_and_points_stay_on_the_cpu(restore_device):
    assert device.configure("cpu") == CPU == device.current()
    device._current = torch.device("cuda")  # as after configure("cuda") on a GPU node
    assert device.for_data("points") == CPU
    assert device.for_data("images") == torch.device("cuda")
    with pytest.raises(ValueError, match="points or images"):
        device.for_data("text")


def test_a_module_device_is_that_of_its_parameters():
    assert device.of(torch.nn.Linear(2, 2)) == CPU
    assert device.of(torch.nn.ReLU()) == CPU  # no parameters: the CPU


def test_the_exact_oracle_refuses_a_gpu():
    spec = {"sde": {"kind": "vp"}, "method": {"kind": "exact"}}
    with pytest.raises(ValueError, match="exact-score oracle computes on the CPU"):
        load_score(spec, None, None, torch.device("cuda"))


# --- sampling: CPU bit-identity -------------------------------------------------------------------
POINTS = dict(n_steps=4, n_samples=10, event_shape=(2,), seed=3, brownian_steps=8, batch_size=4)


@pytest.mark.parametrize(
    "sampler", [{"kind": "euler_maruyama"}, {"kind": "ddim", "eta": 0.5}, {"kind": "edm_heun"}]
)
@pytest.mark.parametrize(
    "pert", [{"kind": "none"}, {"kind": "state"}, {"kind": "adversarial", "iters": 2}]
)
def test_an_explicit_cpu_device_changes_no_bit(sampler, pert):
    def run(**kw):
        p = build_perturbation(pert, 0.2, (2,))
        return generate(sampler, {"kind": "uniform"}, SDE, gaussian_score, **POINTS,
                        perturbation=p, **kw)  # fmt: skip

    default, explicit = run(), run(device=CPU)
    assert explicit.device == CPU and torch.equal(default, explicit)


def _image_score():
    torch.manual_seed(0)
    net = TinyUNet(1, width=8, emb_dim=16, n_classes=3).eval().requires_grad_(False)
    return net, build_method({"kind": "ddpm", "net": {}}, SDE).score_fn(BalancedLabels(net))


def test_an_explicit_cpu_device_changes_no_bit_on_images():
    _, score = _image_score()
    kw = dict(n_steps=3, n_samples=6, event_shape=(1, 8, 8), seed=1, batch_size=3,
              dtype=torch.float32)  # fmt: skip
    p = build_perturbation({"kind": "constant"}, 0.3, (1, 8, 8))
    a = generate({"kind": "exponential_integrator"}, {"kind": "uniform"}, SDE, score, **kw,
                 perturbation=p)  # fmt: skip
    b = generate({"kind": "exponential_integrator"}, {"kind": "uniform"}, SDE, score, **kw,
                 perturbation=p, device="cpu")  # fmt: skip
    assert torch.equal(a, b)


# --- sampling on a GPU (skipped here) -------------------------------------------------------------
@cuda
def test_noise_is_the_same_numbers_on_the_gpu():
    grid = grid_from_spec(SDE, 8, {"kind": "uniform"})
    x_cpu, z_cpu = sample_noise(5, range(4), (3,), grid, 2, True, torch.float32)
    x_gpu, z_gpu = sample_noise(5, range(4), (3,), grid, 2, True, torch.float32, "cuda")
    assert x_gpu.device.type == "cuda" and torch.equal(x_gpu.cpu(), x_cpu)
    assert torch.equal(z_gpu.cpu(), z_cpu)


@cuda
@pytest.mark.parametrize("pert", [{"kind": "state"}, {"kind": "adversarial", "ascent": "greedy"}])
def test_gpu_samples_match_the_cpu(pert):
    p = build_perturbation(pert, 0.2, (2,))
    kw = dict(**POINTS, perturbation=p, dtype=torch.float64)
    cpu = generate({"kind": "euler_maruyama"}, {"kind": "uniform"}, SDE, gaussian_score, **kw)
    gpu = generate({"kind": "euler_maruyama"}, {"kind": "uniform"}, SDE, gaussian_score, **kw,
                   device="cuda")  # fmt: skip
    assert gpu.device == CPU  # samples come back to the CPU
    torch.testing.assert_close(gpu, cpu, rtol=1e-10, atol=1e-10)


@cuda
def test_a_network_score_samples_on_the_gpu():
    net, score = _image_score()
    kw = dict(n_steps=3, n_samples=6, event_shape=(1, 8, 8), seed=1, batch_size=3,
              dtype=torch.float32)  # fmt: skip
    cpu = generate({"kind": "ddim"}, {"kind": "uniform"}, SDE, score, **kw)
    net.to("cuda")
    gpu = generate({"kind": "ddim"}, {"kind": "uniform"}, SDE, score, **kw, device="cuda")
    torch.testing.assert_close(gpu, cpu, rtol=1e-2, atol=1e-2)  # float32, TF32 convolutions
