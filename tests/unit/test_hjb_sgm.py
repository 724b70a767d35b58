"""HJB-regularised SGM: the score's HJB residual vanishes for the true score, the derivative
estimators are exact or unbiased, and each term of the loss is switched on by its weight."""

import pytest
import torch

from mfgstudy.core.diffops import divergence_and_laplacian, probe_directions
from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.registry import build_method
from mfgstudy.training.loop import train

OU = VPSDE(beta_min=1.0, beta_max=1.0, T=3.0, t_min=1e-3)  # the paper's f = x/2, sigma = 1
VP = VPSDE()  # linear beta: the residual must vanish for a time-dependent beta too
MEAN = torch.tensor([0.5, -0.5], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)


class GaussianScore(torch.nn.Module):
    """The exact score of the diffused N(MEAN, COV) as a 'network' of (x, t / T), written in
    torch so that it is differentiable in x and t (an independent closed form)."""

    def __init__(self, sde: VPSDE, scale: float = 1.0):
        super().__init__()
        self.sde, self.scale = sde, scale

    def forward(self, x, t_in):
        sde = self.sde
        t = (t_in * sde.T).to(torch.float64)
        b = sde.beta_min * t + 0.5 * (sde.beta_max - sde.beta_min) * t**2 / sde.T
        a, s2 = torch.exp(-0.5 * b), -torch.expm1(-b)
        cov_t = a[:, None, None] ** 2 * COV + s2[:, None, None] * torch.eye(2, dtype=x.dtype)
        diff = x - a[:, None] * MEAN
        return -self.scale * torch.linalg.solve(cov_t, diff.unsqueeze(-1)).squeeze(-1)


def _method(sde, **kw):
    return build_method({"kind": "hjb_sgm", "net": {}, **kw}, sde)


@pytest.mark.parametrize("sde", [OU, VP], ids=["ou", "linear_beta"])
def test_hjb_residual_vanishes_for_the_true_score(sde):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=gen, dtype=torch.float64) * 1.5
    t = torch.rand(200, generator=gen, dtype=torch.float64) * (sde.T - 0.05) + 0.05
    method = _method(sde, alpha1=1.0)
    r, _, _ = method.hjb_residual(GaussianScore(sde), x, t, gen)
    assert float(r.detach().abs().max()) < 1e-8
    r_bad, _, _ = method.hjb_residual(GaussianScore(sde, scale=1.1), x, t, gen)
    assert float(r_bad.detach().abs().mean()) > 1e-2  # a wrong score violates the equation


def test_divergence_and_laplacian_exact_and_hutchinson():
    """Unit-vector probes give the exact traces; Rademacher probes are unbiased for them."""
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(3, 3, generator=gen, dtype=torch.float64)

    def f(y):  # div f = tr(w) + 3 sum y^2 ... closed forms below
        return y @ w.T + y.pow(3)

    x = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    div_want = torch.trace(w) + 3 * x.square().sum(1)
    lap_want = 6 * x
    div, lap = divergence_and_laplacian(f, x, probe_directions(x, 0, gen), laplacian=True)
    torch.testing.assert_close(div, div_want)
    torch.testing.assert_close(lap, lap_want)
    div_h, lap_h = divergence_and_laplacian(f, x, probe_directions(x, 2, gen), laplacian=True)
    assert float((div_h - div_want).mean()) == pytest.approx(0.0, abs=0.1)
    assert float((lap_h - lap_want).mean()) == pytest.approx(0.0, abs=0.1)


LOSS_NET = {"points": {"kind": "fc", "width": 16, "depth": 2}}


def _loss(x0, **kw):
    method = build_method({"kind": "hjb_sgm", "net": LOSS_NET, **kw}, OU)
    torch.manual_seed(0)
    net = method.build_net("points", (2,))
    loss, terms = method.loss(net, x0, torch.Generator().manual_seed(3))
    loss.backward()
    grad = torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])
    return float(loss.detach()), terms, grad


def test_each_weight_switches_its_term_on():
    x0 = torch.rand(64, 2) * 2 - 1
    base, t_base, g_base = _loss(x0)
    assert set(t_base) == {"ism"}
    for kw, term in (({"alpha1": 1.0}, "hjb"), ({"alpha2": 1.0}, "terminal")):
        value, terms, grad = _loss(x0, **kw)
        assert term in terms and value != pytest.approx(base)
        assert not torch.allclose(grad, g_base)
    _, t_p2, g_p2 = _loss(x0, alpha1=1.0, p=2)
    _, t_p1, g_p1 = _loss(x0, alpha1=1.0, p=1)
    assert t_p1["hjb"] != pytest.approx(t_p2["hjb"]) and not torch.allclose(g_p1, g_p2)
    _, t_pinn, _ = _loss(x0, alpha0=0.0, alpha1=1.0, alpha2=1.0)
    assert set(t_pinn) == {"hjb", "terminal"}  # section 7.1: no score-matching term


def test_noise_output_and_hutchinson_run_on_images():
    spec = {"kind": "hjb_sgm", "output": "noise", "weighting": "sigma2", "probes": 1,
            "alpha1": 1.0, "alpha2": 0.1, "net": {"images": {"kind": "unet", "width": 8,
                                                             "emb_dim": 16}}}  # fmt: skip
    method = build_method(spec, OU)
    net = method.build_net("images", (1, 8, 8))
    loss, terms = method.loss(net, torch.rand(4, 1, 8, 8) * 2 - 1, torch.Generator())
    loss.backward()
    assert torch.isfinite(loss) and set(terms) == {"hjb", "ism", "terminal"}
    s = method.score_fn(net)(torch.zeros(2, 1, 8, 8), 0.5)
    assert s.shape == (2, 1, 8, 8) and torch.isfinite(s).all()


def test_implicit_score_matching_learns_a_gaussian_score():
    """Tolerance: relative RMS error below 0.25 at t = 0.3 and 1.0 after 1500 steps."""
    from mfgstudy.core.exact import GaussianMixture

    g = torch.Generator().manual_seed(0)
    chol = torch.linalg.cholesky(COV).float()
    x0 = MEAN.float() + torch.randn(4000, 2, generator=g) @ chol.T
    spec = {"kind": "hjb_sgm", "net": {"points": {"kind": "fc", "width": 64, "depth": 2}}}
    method = build_method(spec, OU)
    cfg = {"steps": 1500, "batch_size": 256, "lr": 3e-3, "ema": 0.99, "warmup": 50,
           "log_every": 100}  # fmt: skip
    net, log = train(method, method.build_net("points", (2,)), x0, cfg, seed=0)
    assert float(log["loss"].values[-1]) < float(log["loss"].values[0])
    mix = GaussianMixture.gaussian(MEAN, COV)
    score = method.score_fn(net)
    for t in (0.3, 1.0):
        xt = float(OU.alpha(t)) * x0[:500].double() + float(OU.sigma(t)) * torch.randn(
            500, 2, generator=g, dtype=torch.float64
        )
        want = mix.score(xt, OU, t)
        rel = (score(xt, t) - want).norm() / want.norm()
        assert float(rel) < 0.25, (t, float(rel))


@pytest.mark.parametrize("activation", ["gelu", "silu", "tanh"])
def test_fc_jet_matches_autograd(activation):
    """FC.jet's derivatives carried through the layers equal reverse-mode Jacobians and nested
    forward-mode Laplacians and time derivatives (float64, to round-off)."""
    from mfgstudy.core.diffops import time_derivative
    from mfgstudy.nets import FC

    torch.manual_seed(0)
    net = FC(2, width=16, depth=3, activation=activation).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 2, generator=gen, dtype=torch.float64)
    t = torch.rand(40, generator=gen, dtype=torch.float64)
    f, df, lap, f_t = net.jet(x, t)
    jac = torch.func.vmap(torch.func.jacrev(lambda y, s: net(y[None], s[None])[0]))(x, t)
    _, lap_want = divergence_and_laplacian(
        lambda y: net(y, t), x, probe_directions(x, 0, gen), laplacian=True
    )
    torch.testing.assert_close(f, net(x, t))
    torch.testing.assert_close(df.permute(1, 2, 0), jac)  # df[k, n, i] = d f_i / d x_k
    torch.testing.assert_close(lap, lap_want)
    torch.testing.assert_close(f_t, time_derivative(lambda s: net(x, s), t))
    f1, df1, lap1, ft1 = net.jet(x, t, order=1)
    torch.testing.assert_close(df1, df)
    assert lap1 is None and ft1 is None
    with pytest.raises(ValueError, match="order"):
        net.jet(x, t, order=3)


class _NoJet(torch.nn.Module):
    """The same network without its jet: the loss takes the nested-jvp path."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, t):
        return self.net(x, t)


@pytest.mark.parametrize("output", ["score", "noise"])
@pytest.mark.parametrize("alphas", [(1.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.0, 1.0, 1.0)])
def test_jet_and_jvp_losses_agree(output, alphas):
    """The loss and its parameter gradients through FC.jet equal the nested-jvp ones."""
    spec = {"kind": "hjb_sgm", "net": LOSS_NET, "output": output, "p": 1,
            **dict(zip(("alpha0", "alpha1", "alpha2"), alphas, strict=True))}  # fmt: skip
    method = build_method(spec, OU)
    torch.manual_seed(0)
    net = method.build_net("points", (2,)).double()
    x0 = torch.rand(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = []
    for model in (net, _NoJet(net)):
        assert method.has_jet(model, x0) == (model is net)
        net.zero_grad()
        loss, terms = method.loss(model, x0 * 2 - 1, torch.Generator().manual_seed(3))
        loss.backward()
        out.append((loss.detach(), terms, torch.cat([p.grad.flatten() for p in net.parameters()])))
    torch.testing.assert_close(out[0][0], out[1][0])
    assert out[0][1].keys() == out[1][1].keys()
    torch.testing.assert_close(out[0][2], out[1][2])


def test_compiled_loss_trains_as_the_eager_one():
    """``train.compile: true`` (torch.compile of the loss): the same run to rounding. The
    generators sit outside the compiled graphs, so both runs draw the same batches and times;
    the fused kernels only reorder float32 sums (tolerance: 1e-3 relative on the last logged
    loss after 30 steps of the full loss, all three terms on)."""
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(512, 2, generator=g)
    spec = {"kind": "hjb_sgm", "alpha1": 1.0, "alpha2": 1.0, "output": "noise",
            "net": {"points": {"kind": "fc", "width": 16, "depth": 2}}}  # fmt: skip
    method = build_method(spec, OU)
    cfg = {"steps": 30, "batch_size": 64, "lr": 1e-3, "ema": 0.9, "log_every": 10}
    losses = []
    for compile_ in (False, True):
        torch.manual_seed(0)
        net = method.build_net("points", (2,))
        _, log = train(method, net, x0, {**cfg, "compile": compile_}, seed=0)
        losses.append(log["loss"].values)
    assert losses[0].shape == losses[1].shape
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)
