"""DDPM, EDM and Flow Matching turn their networks into the same score: fed the exact
quantity each network should learn for a Gaussian law, each method returns the exact score."""

import math

import pytest
import torch
from scipy.optimize import brentq

from mfgstudy.core.exact import GaussianMixture
from mfgstudy.core.samplers import tweedie_x0
from mfgstudy.core.sde import VPSDE
from mfgstudy.methods.registry import build_method

SDE = VPSDE()
GAUSS = GaussianMixture.gaussian([0.5, -0.5], [[1.0, 0.6], [0.6, 0.5]])


def exact_score(x, t):
    return GAUSS.score(x.double(), SDE, t)


def t_of(ratio, value):
    """VP time at which ratio(t) = value (ratio increasing in t)."""
    return brentq(lambda t: ratio(t) - value, 1e-9, SDE.T + 5.0, xtol=1e-14, rtol=1e-14)


class DDPMOracle(torch.nn.Module):
    def forward(self, x, t_in):
        t = float(t_in[0]) * SDE.T
        return (-math.sqrt(SDE.sigma2(t)) * exact_score(x, t)).float()


class EDMOracle(torch.nn.Module):
    def __init__(self, sd):
        super().__init__()
        self.sd = sd

    def forward(self, y_in, c_noise):
        sigma = math.exp(4 * float(c_noise[0]))
        sd = self.sd
        c_in, c_skip = 1 / math.sqrt(sigma**2 + sd**2), sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / math.sqrt(sigma**2 + sd**2)
        y = y_in.double() / c_in
        t = t_of(lambda s: math.sqrt(SDE.sigma2(s)) / SDE.alpha(s), sigma)
        d = tweedie_x0(SDE, exact_score, float(SDE.alpha(t)) * y, t)
        return ((d - c_skip * y) / c_out).float()


class FMOracle(torch.nn.Module):
    def forward(self, y, tau_in):
        tau = float(tau_in[0])
        t = t_of(lambda s: SDE.sigma(s) / (SDE.alpha(s) + SDE.sigma(s)), tau)
        k = float(SDE.alpha(t) + SDE.sigma(t))
        d = tweedie_x0(SDE, exact_score, k * y.double(), t)
        return ((y.double() - d) / tau).float()


@pytest.mark.parametrize(
    "spec,net",
    [({"kind": "ddpm"}, DDPMOracle()), ({"kind": "edm", "sigma_data": 0.7}, EDMOracle(0.7)),
     ({"kind": "flow_matching"}, FMOracle())],
    ids=["ddpm", "edm", "flow_matching"],
)  # fmt: skip
@pytest.mark.parametrize("t", [0.01, 0.2, 0.7, 1.0])
def test_score_conversion_is_exact_on_a_gaussian(spec, net, t):
    x = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = build_method(spec, SDE).score_fn(net)(x, t)
    want = exact_score(x, t)
    torch.testing.assert_close(got, want, rtol=2e-4, atol=2e-4 / math.sqrt(SDE.sigma2(t)))
