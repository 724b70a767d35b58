"""The claims ledger: verdict rules, the bootstrap, and that claimed numbers come from its file."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mfgstudy import plan
from mfgstudy.claims import FAILS, HOLDS, MEASURES, UNMEASURABLE, bootstrap, verdict

NAN = float("nan")


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (9.0, 15.0, HOLDS),  # significantly better and consistent with the claimed 8.6%
        (2.0, 5.0, FAILS),  # better, but reliably less than claimed
        (-500.0, -100.0, FAILS),  # worse than the baseline
        (-3.0, 20.0, UNMEASURABLE),  # the CI holds both 0 and the claim
        (NAN, NAN, UNMEASURABLE),  # not run at this scale
    ],
)
def test_improvement_rule(lo, hi, expected):
    assert verdict("improvement", 8.6, lo, hi) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (-2.1, -1.9, HOLDS),  # faster than 1/N satisfies the O(1/N) bound
        (-1.1, -0.9, HOLDS),  # within tolerance
        (-0.78, -0.74, FAILS),  # slower than 1/N beyond the tolerance
        (-1.5, -0.5, UNMEASURABLE),
    ],
)
def test_bound_slope_rule(lo, hi, expected):
    assert verdict("bound_slope", -1.0, lo, hi, tol=0.2) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [(0.95, 1.05, HOLDS), (0.3, 0.4, FAILS), (0.5, 1.2, UNMEASURABLE), (1.0, 1.0, HOLDS)],
)
def test_bound_exponent_rule(lo, hi, expected):
    assert verdict("bound_exponent", 1.0, lo, hi, tol=0.2) == expected


def test_ratio_and_share_rules():
    assert verdict("ratio_below", 1.0, 0.5, 0.9) == HOLDS
    assert verdict("ratio_below", 1.0, 1.2, 3.0) == FAILS
    assert verdict("ratio_below", 1.0, 0.8, 1.3) == UNMEASURABLE
    assert verdict("all_true", 1.0, 1.0, 1.0) == HOLDS
    assert verdict("all_true", 1.0, 0.5, 0.5) == FAILS
    with pytest.raises(ValueError, match="unknown verdict rule"):
        verdict("vibes", 1.0, 0.0, 1.0)


def test_bootstrap_ci_brackets_the_point_and_collapses_for_one_seed():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.1, 20), rng.normal(2.0, 0.1, 20)
    point, lo, hi = bootstrap(lambda x, y: y.mean() - x.mean(), [a, b], rng)
    assert lo < point < hi and lo > 0.8 and hi < 1.2
    assert bootstrap(lambda x: x.mean(), [np.array([3.0])], rng) == (3.0, 3.0, 3.0)


def test_every_claim_of_the_ledger_file_has_a_measurement_and_a_rule():
    spec = yaml.safe_load(open(plan.CLAIMS_FILE))
    ids = [c["id"] for c in spec["claims"]]
    assert len(ids) == len(set(ids))
    for c in spec["claims"]:
        assert c["measure"]["kind"] in MEASURES, c["id"]
        assert verdict(c["rule"], c["claimed"], NAN, NAN) == UNMEASURABLE
