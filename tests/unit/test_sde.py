import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mfgstudy.core.sde import VPSDE, check_nested, time_grid

SDES = [VPSDE(), VPSDE(beta_min=2.0, beta_max=2.0, T=3.0, t_min=1e-3)]


@pytest.mark.parametrize("sde", SDES)
def test_alpha_sigma_preserve_variance(sde):
    t = np.linspace(0, sde.T, 101)
    np.testing.assert_allclose(sde.alpha(t) ** 2 + sde.sigma2(t), 1.0, atol=1e-12)


def test_constant_beta_is_the_pde_papers_ou_process():
    sde = SDES[1]  # beta = 2: dX = -X dt + sqrt(2) dW, alpha = e^{-t}
    t = np.linspace(0, 3, 7)
    np.testing.assert_allclose(sde.alpha(t), np.exp(-t), rtol=1e-12)
    np.testing.assert_allclose(sde.sigma2(t), 1 - np.exp(-2 * t), rtol=1e-12)


@pytest.mark.parametrize("sde", SDES)
@given(u=st.floats(0.0, 1.0))
def test_inverse_integrated_beta(sde, u):
    t = u * sde.T
    assert sde.inverse_integrated_beta(sde.integrated_beta(t)) == pytest.approx(t, abs=1e-9)


@pytest.mark.parametrize("sde", SDES)
@pytest.mark.parametrize("kind", ["uniform", "edm"])
@pytest.mark.parametrize("n,m", [(4, 1024), (8, 64), (3, 12)])
def test_grids_are_nested_and_descending(sde, kind, n, m):
    coarse, fine = time_grid(sde, n, kind), time_grid(sde, m, kind)
    assert coarse[0] == sde.T and coarse[-1] == sde.t_min and len(coarse) == n + 1
    assert np.all(np.diff(coarse) < 0)
    np.testing.assert_allclose(fine[:: m // n], coarse, rtol=1e-12)


def test_edm_grid_is_dense_near_zero():
    sde = VPSDE()
    uni, edm = time_grid(sde, 32, "uniform"), time_grid(sde, 32, "edm")
    assert (edm < 0.02).sum() >= 3 * (uni < 0.02).sum()
    assert edm[-2] - edm[-1] < 0.1 * (uni[-2] - uni[-1])  # last step ten times shorter


def test_bad_grid_inputs():
    with pytest.raises(ValueError, match="positive integer"):
        time_grid(VPSDE(), 0)
    with pytest.raises(ValueError, match="unknown time grid"):
        time_grid(VPSDE(), 4, "cosine")
    with pytest.raises(ValueError, match="does not divide"):
        check_nested(3, 64)
    with pytest.raises(ValueError, match="t_min"):
        VPSDE(t_min=0.0)
