"""MFG-Diffusion (Algorithm 1): every reading switch changes the computation; the HJB residual,
Laplacian and particle score are what they claim to be; the FP loss decreases."""

import pytest
import torch

from mfgstudy.diffops import divergence
from mfgstudy.methods import build_method
from mfgstudy.methods.mfg import READINGS, kde_score
from mfgstudy.sde import VPSDE

SDE = VPSDE()
NET = {"points": {"kind": "mlp", "width": 32, "depth": 2, "emb_dim": 16}}
SPEC = {"kind": "mfg", "net": NET, "value_net": NET, "gamma": 1e-3,
        "lambda": {"kind": "constant", "value": 1.0}}  # fmt: skip
TRAIN = {"outer_iters": 2, "time_points": 4, "hjb_batches": 1, "fp_batches": 1, "batch_size": 32,
         "measure_size": 64, "lr": 1e-3, "ema": 0.9}  # fmt: skip


def _data(n=256):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0)) * 0.5 + 1.0


def _fit(readings, train=TRAIN, seed=0):
    method = build_method({**SPEC, "readings": readings}, SDE)
    torch.manual_seed(0)
    net = method.build_net("points", (2,))
    ema, log, extra = method.fit(net, _data(), train, seed, "points")
    return ema, log, extra


def _params(net):
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("key", sorted(READINGS))
def test_every_reading_changes_the_computation(key):
    base = {k: v[0] for k, v in READINGS.items()}  # defaults: re-noised data, so line 9 applies
    other = {**base, key: READINGS[key][1]}
    a, log_a, xa = _fit(base)
    b, log_b, xb = _fit(other)
    same_score = torch.allclose(_params(a), _params(b))
    same_value = all(torch.equal(xa["value_net"][k], xb["value_net"][k]) for k in xa["value_net"])
    assert not (same_score and same_value), f"switch {key} was ignored"
    assert log_a.attrs[f"reading_{key}"] != log_b.attrs[f"reading_{key}"]


def test_unknown_reading_is_rejected():
    with pytest.raises(ValueError, match="mfg reading tweedie"):
        build_method({**SPEC, "readings": {"tweedie": "exact"}}, SDE)


def test_hjb_residual_of_a_known_value_function():
    """V = a |x|^2 + b t: grad V = 2 a x, lap V = 2 a d, dV/dt = b (network time is t / T)."""
    a, b, t = 0.3, -0.7, 0.4

    class Quadratic(torch.nn.Module):
        def forward(self, x, tt):
            return a * x.square().sum(1) + b * tt * SDE.T

    method = build_method(SPEC, SDE)
    x = torch.randn(16, 2, dtype=torch.float64)
    glm = torch.randn(16, 2, dtype=torch.float64)
    got = method.hjb_residual(Quadratic(), x, glm, t)
    g2, beta, lam = float(SDE.g2(t)), float(SDE.beta(t)), 1.0
    gv = 2 * a * x
    want = (-b + (-0.5 * beta * x * gv).sum(1) + 0.5 * g2 * 2 * a * 2
            - g2 * g2 / (4 * lam) * gv.square().sum(1) + lam * glm.square().sum(1))  # fmt: skip
    torch.testing.assert_close(got.double(), want)


def test_hutchinson_laplacian_is_unbiased():
    x = torch.randn(4000, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 6, dtype=torch.float64)
    f = (x @ w * x).sum(1)  # quadratic form: Laplacian = trace(w + w^T), the same at every x
    (gx,) = torch.autograd.grad(f.sum(), x, create_graph=True)
    est = divergence(gx, x)
    assert float(est.mean()) == pytest.approx(float(torch.trace(w + w.T)), abs=0.2)


def test_particle_score_is_the_gradient_of_the_smoothed_cloud():
    p = torch.randn(50, 2, dtype=torch.float64)
    x = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)
    n, d = p.shape
    h2 = float(p.var(0).mean()) * (4.0 / (n * (d + 2))) ** (2.0 / (d + 4))
    logp = torch.logsumexp(-(x[:, None] - p[None]).square().sum(-1) / (2 * h2), dim=1)
    (g,) = torch.autograd.grad(logp.sum(), x)
    torch.testing.assert_close(kde_score(x.detach(), p), g)


def test_fp_loss_decreases_with_the_default_readings():
    train = {
        **TRAIN,
        "outer_iters": 6,
        "time_points": 6,
        "fp_batches": 4,
        "hjb_batches": 2,
        "lr": 3e-3,
    }
    _, log, _ = _fit({}, train)
    fp = log["fp_loss"].values
    assert fp[-1] < fp[0]
    assert {"hjb_residual_rms", "score_gap_rms"} <= set(log.data_vars)


def test_printed_update_ascends_the_fp_loss():
    train = {**TRAIN, "outer_iters": 4, "fp_batches": 4, "lr": 3e-3}
    _, log, _ = _fit({"update": "printed", "measure_update": "printed"}, train)
    fp = log["fp_loss"].values
    assert fp[-1] > fp[0]  # line 18 as printed climbs the loss it should minimise


def test_closed_form_violation_is_logged_with_its_floor_and_does_not_change_training():
    """With the data law known, the log gains the HJB-FP residuals with the exact score, the
    distance to the equilibrium and their standard errors; training itself is unchanged."""
    from mfgstudy.exact import GaussianMixture

    law = GaussianMixture.gaussian([1.0, 1.0], [[0.25, 0.0], [0.0, 0.25]])
    method = build_method({**SPEC, "readings": {}}, SDE)
    torch.manual_seed(0)
    net = method.build_net("points", (2,))
    ema, log, _ = method.fit(net, _data(), TRAIN, 0, "points", law=law)
    _, plain, _ = _fit({})
    for k in ("hjb_residual_exact", "fp_residual_exact", "score_error_exact"):
        rms, se = log[f"{k}_rms"].values, log[f"{k}_se"].values
        assert (rms > 0).all() and (se > 0).all() and (se < rms).all(), k
        assert f"{k}_rms" not in plain
    torch.testing.assert_close(log["fp_loss"].values, plain["fp_loss"].values)
