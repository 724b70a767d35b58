import pytest
import torch

from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.registry import build_method
from mfgstudy.training.loop import train

SDE = VPSDE()
DDPM_SPEC = {
    "kind": "ddpm",
    "net": {"points": {"kind": "mlp", "width": 32, "depth": 2, "emb_dim": 16}},
}
TRAIN = {"steps": 300, "batch_size": 128, "lr": 3e-3, "ema": 0.9, "warmup": 10, "log_every": 50}


def test_ddpm_loss_decreases_on_a_toy_law():
    torch.manual_seed(0)
    x = torch.randn(2000, 2) * 0.3 + torch.tensor([1.0, -1.0])
    method = build_method(DDPM_SPEC, SDE)
    net = method.build_net("points", (2,))
    _, log = train(method, net, x, TRAIN, seed=0)
    loss = log["eps_mse"].values
    assert loss[-1] < 0.7 * loss[0]


def test_ddpm_score_is_minus_eps_over_sigma():
    method = build_method(DDPM_SPEC, SDE)

    class Const(torch.nn.Module):
        def forward(self, x, t):
            return torch.ones_like(x)

    x = torch.zeros(3, 2, dtype=torch.float64)
    s = method.score_fn(Const())(x, 0.5)
    torch.testing.assert_close(s, -torch.ones_like(x) / float(SDE.sigma(0.5)))


def test_non_finite_loss_stops_training_naming_the_step():
    method = build_method(DDPM_SPEC, SDE)
    net = method.build_net("points", (2,))
    x = torch.full((10, 2), float("nan"))
    with pytest.raises(FloatingPointError, match="step 1.*eps_mse"):
        train(method, net, x, TRAIN, seed=0)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown method kind"):
        build_method({"kind": "gan"}, SDE)


NET = {"points": {"kind": "mlp", "width": 64, "depth": 2, "emb_dim": 32}}
LEARN = {"steps": 1500, "batch_size": 256, "lr": 3e-3, "ema": 0.99, "warmup": 50, "log_every": 100}


@pytest.mark.parametrize(
    "spec",
    [{"kind": "ddpm"}, {"kind": "edm", "sigma_data": 0.8}, {"kind": "flow_matching"},
     {"kind": "flow_matching", "coupling": "minibatch_ot"}],
    ids=["ddpm", "edm", "fm", "fm_ot"],
)  # fmt: skip
def test_learned_score_approaches_the_closed_form_on_a_gaussian(spec):
    """Tolerance: relative RMS score error below 0.25 at t = 0.3 and 0.7 after 1500 steps."""
    from mfgstudy.core.exact import GaussianMixture

    g = torch.Generator().manual_seed(0)
    mean, cov = torch.tensor([0.5, -0.5]), torch.tensor([[1.0, 0.6], [0.6, 0.5]])
    x0 = mean + torch.randn(4000, 2, generator=g) @ torch.linalg.cholesky(cov).T
    method = build_method({**spec, "net": NET}, SDE)
    net, log = train(method, method.build_net("points", (2,)), x0, LEARN, seed=0)
    first, last = (float(log[k].values[i]) for k, i in (("loss", 0), ("loss", -1)))
    assert last < first  # the loss decreases
    mix = GaussianMixture.gaussian(mean, cov)
    score = method.score_fn(net)
    x = (mean + torch.randn(500, 2, generator=g) @ torch.linalg.cholesky(cov).T).double()
    for t in (0.3, 0.7):
        xt = (
            float(SDE.alpha(t)) * x
            + float(SDE.sigma(t)) * torch.randn(500, 2, generator=g).double()
        )
        want = mix.score(xt, SDE, t)
        rel = float((score(xt, t) - want).norm() / want.norm())
        assert rel < 0.25, (t, rel)
