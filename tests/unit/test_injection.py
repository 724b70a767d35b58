"""Class conditioning of the image networks and the class-embedding attack (``injection``):
the conditional UNet uses its label and defaults to the null class; label dropout has its rate;
the shared loop feeds each row its own label through every method's loss; MFG trains with labels;
every attack perturbation lies in its L2 ball, eps = 0 changes nothing and keep-best never lowers
the target probability; the job writes its store."""

import functools
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfgstudy.analysis.injection import attack, class_embeddings, embedding_scale
from mfgstudy.core.perturb import project
from mfgstudy.core.samplers import build_sampler, integrate, sample_noise
from mfgstudy.core.sde import VPSDE, grid_from_spec
from mfgstudy.jobs.injection import injection_job
from mfgstudy.methods.registry import build_method
from mfgstudy.models import load_net, load_score
from mfgstudy.nets import Conditioned, DigitsClassifier, build_net, is_conditional
from mfgstudy.training.fit import fit
from mfgstudy.training.loop import train
from mfgstudy.training.shared import drop_labels

SDE = VPSDE()
K = 10
UNET = {"kind": "unet", "width": 8, "emb_dim": 8, "n_classes": K}
DDIM = {"kind": "ddim", "eta": 0.0}
UNIFORM = {"kind": "uniform"}


def _unet(seed=0, **kw):
    torch.manual_seed(seed)
    return build_net({**UNET, **kw}, (1, 8, 8))


@functools.cache
def _tiny():
    """An untrained conditional DDPM net and an untrained classifier, frozen."""
    method = build_method({"kind": "ddpm", "net": {"images": UNET}}, SDE)
    net = _unet(0).eval().requires_grad_(False)
    torch.manual_seed(1)
    clf = DigitsClassifier(width=4, feat_dim=8).eval().requires_grad_(False)
    return method, net, clf


def _attack(eps, n=6, pgd_iters=3, steps=3, seed=0, sampler=DDIM):
    method, net, clf = _tiny()
    src = np.arange(n) % K
    return attack(method, net, clf, SDE, sampler, UNIFORM, steps, src, (src + 1) % K, eps,
                  pgd_iters, 0.5, seed, batch_size=4)  # fmt: skip


# --- the conditional network ------------------------------------------------------------------
def test_conditional_unet_uses_the_label_and_defaults_to_the_null_class():
    net = _unet()
    x, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    with torch.no_grad():
        out = {c: net(x, t, y=torch.full((4,), c)) for c in range(K + 1)}
        assert not torch.allclose(out[0], out[1])  # different labels, different outputs
        torch.testing.assert_close(net(x, t), out[K])  # y=None is the null class
        torch.testing.assert_close(net(x, t, y=3), out[3])  # an int label is broadcast
        emb = net.label_emb.weight[3]
        torch.testing.assert_close(net(x, t, y_emb=emb.expand(4, -1)), out[3])  # y_emb overrides
        torch.testing.assert_close(net(x, t, y=0, y_emb=emb.expand(4, -1)), out[3])
        torch.testing.assert_close(Conditioned(net, y=3)(x, t), out[3])
    assert is_conditional(net) and net.null_label == K


def test_unconditional_nets_are_unchanged_and_refuse_labels():
    plain = build_net({"kind": "unet", "width": 8, "emb_dim": 8}, (1, 8, 8))
    assert not is_conditional(plain) and plain.label_emb is None
    x, t = torch.randn(2, 1, 8, 8), torch.rand(2)
    assert plain(x, t).shape == x.shape
    with pytest.raises(ValueError, match="unconditional"):
        plain(x, t, y=1)
    mlp = build_net({"kind": "mlp", "width": 8, "depth": 1, "emb_dim": 8, "n_classes": 0}, (2,))
    assert not is_conditional(mlp)
    with pytest.raises(ValueError, match="unet only"):
        build_net({"kind": "mlp", "width": 8, "depth": 1, "emb_dim": 8, "n_classes": 3}, (2,))


def test_label_dropout_has_its_rate():
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(K, (200_000,), generator=gen)
    dropped = drop_labels(y, 0.1, K, gen)
    rate = float((dropped == K).float().mean())
    assert rate == pytest.approx(0.1, abs=0.004)  # ~6 binomial standard deviations
    kept = dropped != K
    assert torch.equal(dropped[kept], y[kept])  # the others keep their own label
    assert torch.equal(drop_labels(y, 0.0, K, gen), y)


# --- the shared loop binds each row's label ---------------------------------------------------
def _pattern(labels: torch.Tensor) -> torch.Tensor:
    """A +-1 image per label (its 4-bit code in the first pixels), distinct per label."""
    bits = (labels[:, None] >> torch.arange(4)) & 1
    img = torch.ones(len(labels), 64)
    img[:, :4] = 2.0 * bits - 1.0
    return img.reshape(-1, 1, 8, 8)


class Spy(torch.nn.Module):
    """A conditional net that records the input and the label of every row it sees."""

    def __init__(self):
        super().__init__()
        self.inner = _unet()
        self.n_classes, self.null_label = K, K
        self.seen = []

    def forward(self, x, t, y=None, y_emb=None):
        self.seen.append((x.detach().clone(), torch.as_tensor(y).clone()))
        return self.inner(x, t, y=y, y_emb=y_emb)


@pytest.mark.parametrize(
    "spec",
    [{"kind": "ddpm"}, {"kind": "edm"}, {"kind": "flow_matching"},
     {"kind": "flow_matching", "coupling": "minibatch_ot"}],
    ids=["ddpm", "edm", "fm", "fm_ot"],
)  # fmt: skip
def test_shared_loop_feeds_each_row_its_own_label(spec):
    """Data row i is 1e6 x the pattern of its label, which dominates the noise of every
    method's network input: the sign of the input row names the data row it came from, so a
    label bound to another row (or a method that reorders x0) shows."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(K, (200,), generator=g)
    x = 1e6 * _pattern(labels)
    method = build_method({**spec, "net": {"images": UNET}}, SDE)
    spy = Spy()
    cfg = {"steps": 4, "batch_size": 32, "lr": 1e-3, "ema": 0.9, "log_every": 2,
           "label_dropout": 0.25}  # fmt: skip
    train(method, spy, x, cfg, seed=0, labels=labels)
    kept = dropped = 0
    for x_in, y in spy.seen:
        keep = y != K
        assert torch.equal(torch.sign(x_in[keep]), _pattern(y[keep]))
        kept, dropped = kept + int(keep.sum()), dropped + int((~keep).sum())
    assert kept > 0 and dropped > 0  # the dropout happened, and not to every row


def test_shared_loop_checks_labels_against_the_network():
    method = build_method({"kind": "ddpm", "net": {"images": UNET}}, SDE)
    x = torch.randn(8, 1, 8, 8)
    cfg = {"steps": 1, "batch_size": 4, "lr": 1e-3, "ema": 0.9, "log_every": 1}
    with pytest.raises(ValueError, match="labels are needed"):
        train(method, _unet(), x, cfg, seed=0)
    plain = build_net({"kind": "unet", "width": 8, "emb_dim": 8}, (1, 8, 8))
    with pytest.raises(ValueError, match="unconditional"):
        train(method, plain, x, cfg, seed=0, labels=torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        train(method, _unet(), x, cfg, seed=0, labels=torch.full((8,), K))


def test_mfg_fit_runs_with_labels_on_tiny_images():
    value = {"images": {"kind": "mlp", "width": 16, "depth": 1, "emb_dim": 8}}
    spec = {"kind": "mfg", "net": {"images": UNET}, "gamma": 1e-4, "value_net": value}
    cfg = {"outer_iters": 1, "time_points": 3, "hjb_batches": 1, "fp_batches": 2,
           "batch_size": 8, "measure_size": 16, "lr": 1e-2, "ema": 0.0,
           "label_dropout": 0.1}  # fmt: skip
    method = build_method(spec, SDE)
    net = _unet()
    before = net.label_emb.weight.detach().clone()
    labels = torch.arange(32) % 3  # classes 0..2 only
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    ema, log, extra = fit(method, net, x, cfg, 0, "images", labels=labels)
    assert np.isfinite(log["fp_loss"].values).all() and "value_net" in extra
    moved = (ema.label_emb.weight - before).norm(dim=1) > 0
    assert moved[:3].all() and not moved[3:K].any()  # only the labels it saw were trained


def test_load_net_builds_the_conditional_net_of_a_checkpoint(tmp_path):
    from mfgstudy.store import save_torch

    net = _unet(3)
    save_torch({"state_dict": net.state_dict(), "event_shape": [1, 8, 8]}, tmp_path / "m.pt")
    spec = {"sde": {"kind": "vp"}, "method": {"kind": "ddpm", "net": {"images": UNET}}}
    data = type("D", (), {"kind": "images"})()
    loaded = load_net(spec, data, str(tmp_path / "m.pt"))
    assert is_conditional(loaded) and not any(p.requires_grad for p in loaded.parameters())
    torch.testing.assert_close(class_embeddings(loaded), class_embeddings(net))
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    score = load_score(spec, data, str(tmp_path / "m.pt"))  # balanced labels: i mod K
    eps = net(x.float(), torch.full((3,), 0.5), y=torch.arange(3) % K).double()
    torch.testing.assert_close(score(x, 0.5), -eps / float(SDE.sigma(0.5)))
    plain = {**spec, "method": {"kind": "ddpm", "net": {"images": {**UNET, "n_classes": 0}}}}
    with pytest.raises(RuntimeError, match="label_emb"):
        load_net(plain, data, str(tmp_path / "m.pt"))  # strict: the spec must match


# --- the attack -------------------------------------------------------------------------------
def test_projection_lands_in_the_ball_and_keeps_inner_points():
    d = torch.randn(50, 8, dtype=torch.float64) * torch.logspace(-3, 3, 50)[:, None]
    p = project(d, 1.5)
    assert (p.norm(dim=1) <= 1.5 * (1 + 1e-12)).all()
    inside = d.norm(dim=1) <= 1.5
    torch.testing.assert_close(p[inside], d[inside])
    torch.testing.assert_close(p[~inside].norm(dim=1), torch.full((int((~inside).sum()),), 1.5,
                               dtype=torch.float64))  # fmt: skip


@settings(max_examples=8, deadline=None)
@given(st.lists(st.floats(0.0, 3.0), min_size=1, max_size=3, unique=True))
def test_every_perturbation_respects_its_bound(eps):
    ds = _attack(eps, n=5, pgd_iters=2, steps=2)
    rho = embedding_scale(_tiny()[1])
    bound = ds["eps"].values[:, None] * rho * (1 + 1e-5)
    assert (ds["delta_norm"].values <= bound).all()
    assert ds.attrs["rho"] == pytest.approx(rho)


def test_eps_zero_is_the_unperturbed_pipeline():
    method, net, clf = _tiny()
    n = 6
    ds = _attack([0.0], n=n)
    assert (ds["delta_norm"].values == 0).all()
    src = np.arange(n) % K
    grid = grid_from_spec(SDE, 3, UNIFORM)
    x_T, z = sample_noise(0, range(n), (1, 8, 8), grid, 1, False, torch.float32)
    with torch.no_grad():
        score = method.score_fn(Conditioned(net, y=torch.from_numpy(src)))
        x0 = integrate(build_sampler(DDIM), SDE, score, grid, x_T, z)
        from mfgstudy.analysis.classifier import predict_proba
        from mfgstudy.data import model_to_images

        proba = predict_proba(clf, model_to_images(x0))  # the pipeline: uint8 then classify
    np.testing.assert_array_equal(ds["pred"].values[0], proba.argmax(1))
    np.testing.assert_allclose(ds["target_prob"].values[0], proba[np.arange(n), (src + 1) % K],
                               rtol=1e-5)  # fmt: skip
    assert ds["source_accuracy"].values[0] == pytest.approx(float((proba.argmax(1) == src).mean()))
    assert ds.attrs["clean_accuracy"] == ds["source_accuracy"].values[0]


@pytest.mark.parametrize("sampler", [DDIM, {"kind": "exponential_integrator"}], ids=["ddim", "ei"])
def test_keep_best_never_lowers_the_target_probability(sampler):
    """Certain, not statistical: PGD starts at delta = 0 and keeps each sample's best iterate,
    delta = 0 included, so every sample's target probability at eps > 0 is >= its eps = 0 one.
    A stochastic sampler's noise is fixed per sample, so the same holds for it."""
    ds = _attack([0.0, 0.5, 2.0], n=8, pgd_iters=4, sampler=sampler)
    p = ds["target_prob"].values
    assert (p[1:] >= p[0] - 1e-12).all()
    assert (p[2] > p[0]).any()  # and the attack does move some sample on this tiny case
    assert ds["success_rate"].values.shape == (3,)


def test_injection_job_writes_its_store(tmp_path):
    from mfgstudy.data import build_dataset
    from mfgstudy.store import open_store, save_torch, write_store

    data_ds = build_dataset({"kind": "digits", "test_fraction": 0.9, "seed": 0, "name": "d"})
    write_store(data_ds, tmp_path / "data.zarr", {}, 0, 0.0)
    _, net, clf = _tiny()
    save_torch({"state_dict": net.state_dict(), "event_shape": [1, 8, 8]}, tmp_path / "m.pt")
    cspec = {"width": 4, "feat_dim": 8}
    save_torch({"state_dict": clf.state_dict(), "spec": json.dumps(cspec)}, tmp_path / "c.pt")
    spec = {"sde": {"kind": "vp"}, "method": {"kind": "ddpm", "net": {"images": UNET}},
            "sampler": DDIM, "grid": UNIFORM, "steps": 2, "unit": {"method": "ddpm"},
            "injection": {"n_per_class": 1, "eps": [0.0, 1.0], "pgd_iters": 2,
                          "pgd_lr": 0.5}}  # fmt: skip
    out = tmp_path / "inj.zarr"
    injection_job(spec, 0, str(tmp_path / "data.zarr"), str(tmp_path / "m.pt"),
                  str(tmp_path / "c.pt"), str(out))  # fmt: skip
    ds = open_store(out)
    assert set(ds["eps"].values) == {0.0, 1.0} and ds.sizes["sample"] == K
    assert {"success_rate", "source_accuracy", "target_prob_mean"} <= set(ds.data_vars)
    assert "ANALOG" in ds.attrs["description"] and "rho" in ds.attrs["eps_scale"]
    np.testing.assert_array_equal(ds["target"].values, (ds["source"].values + 1) % K)
