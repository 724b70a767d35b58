"""The shared loop's learning-rate schedule: a linear warm-up, then constant (the default) or a
cosine decay (``train.lr_decay``)."""

import math

import pytest
import torch

from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.registry import build_method
from mfgstudy.training.loop import lr_factor, train

SPEC = {"steps": 100, "batch_size": 16, "lr": 1e-2, "ema": 0.9, "warmup": 10, "log_every": 50}
SDE = {"kind": "vp", "beta_min": 0.1, "beta_max": 20.0, "T": 1.0, "t_min": 1.0e-3}


def test_constant_after_the_warm_up_by_default():
    f = lr_factor(SPEC)
    assert [f(k) for k in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert f(50) == f(99) == 1.0
    assert lr_factor({**SPEC, "lr_decay": "none"})(99) == 1.0


def test_cosine_falls_from_one_to_zero_after_the_warm_up():
    f = lr_factor({**SPEC, "lr_decay": "cosine"})
    assert f(0) == pytest.approx(0.1)  # warm-up times cos(0) = 1
    assert f(50) == pytest.approx(0.5)
    assert f(99) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.99)))
    assert f(99) < 1e-3
    values = [f(k) for k in range(10, 100)]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))


def test_an_unknown_decay_is_refused():
    with pytest.raises(ValueError, match="lr_decay"):
        lr_factor({**SPEC, "lr_decay": "linear"})


def _trained(spec):
    method = build_method(
        {"kind": "ddpm", "net": {"points": {"kind": "mlp", "width": 16, "depth": 1, "emb_dim": 8}}},
        VPSDE.from_spec(SDE),
    )
    torch.manual_seed(0)
    net = method.build_net("points", (2,))
    x = torch.randn(64, 2)
    ema, log = train(method, net, x, spec, seed=0)
    return torch.cat([p.flatten() for p in ema.parameters()]), log


def test_the_decay_changes_training_and_a_seed_still_fixes_it():
    plain, _ = _trained(SPEC)
    cosine, log = _trained({**SPEC, "lr_decay": "cosine"})
    again, _ = _trained({**SPEC, "lr_decay": "cosine"})
    assert torch.equal(cosine, again)
    assert not torch.allclose(plain, cosine)
    assert list(log["step"].values) == [50, 100]
