"""The claims ledger: each verdict word from a toy input, fidelity gates, intervals that need
enough seeds, summary verdicts from judged conditions, and claimed numbers only from its file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mfgstudy import plan
from mfgstudy.claims import (
    CONTEXT,
    FAILS,
    INCONCLUSIVE,
    MEASURES,
    NOT_COMPARABLE,
    REPRODUCED,
    UNMEASURABLE,
    VOCABULARY,
    Condition,
    Settings,
    accuracy_gate,
    images_gate,
    injection_reduction,
    interval_verdict,
    judge,
    load_claims,
    points_gate,
    render_markdown,
    summary_verdict,
)

NAN = float("nan")
PASS = {"passed": True, "summary": "ok"}
FAIL = {"passed": False, "summary": "W2 3.1 = 10 x floor 0.31 (bar 1.5)"}


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (11.0, 15.0, REPRODUCED),  # better than the baseline by at least the claimed 10%
        (2.0, 5.0, FAILS),  # better, but reliably less than claimed
        (-500.0, -100.0, FAILS),  # worse than the baseline
        (-3.0, 20.0, INCONCLUSIVE),  # the CI holds both
    ],
)
def test_improvement_rule(lo, hi, expected):
    assert interval_verdict("improvement", 10.0, lo, hi) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (-2.1, -1.9, REPRODUCED),  # faster than 1/N satisfies the O(1/N) bound
        (-1.1, -0.9, REPRODUCED),  # within tolerance
        (-0.52, -0.48, FAILS),  # N^-1/2: slower than 1/N beyond the tolerance
        (-1.5, -0.5, INCONCLUSIVE),
    ],
)
def test_bound_slope_rule(lo, hi, expected):
    assert interval_verdict("bound_slope", -1.0, lo, hi, tol=0.2) == expected


def test_other_rules_and_an_unknown_one():
    assert interval_verdict("bound_exponent", 1.0, 0.95, 1.05, 0.2) == REPRODUCED
    assert interval_verdict("bound_exponent", 1.0, 0.3, 0.4, 0.2) == FAILS
    assert interval_verdict("ratio_below", 1.0, 0.5, 0.9) == REPRODUCED
    assert interval_verdict("ratio_below", 1.0, 1.2, 3.0) == FAILS
    assert interval_verdict("ratio_below", 1.0, 0.8, 1.3) == INCONCLUSIVE
    assert interval_verdict("all_true", 1.0, 1.0, 1.0) == REPRODUCED
    with pytest.raises(ValueError, match="unknown verdict rule"):
        interval_verdict("vibes", 1.0, 0.0, 1.0)


def _cond(**kw):
    base = dict(label="toy", measured=-1.0, ci_low=-1.05, ci_high=-0.95, ci_over="jackknife",
                n_seeds=5)  # fmt: skip
    return Condition(**{**base, **kw})


def test_each_vocabulary_word_comes_from_a_toy_input():
    words = {
        judge("bound_slope", -1.0, _cond(), 0.2)[0],
        judge("bound_slope", -1.0, _cond(measured=-0.5, ci_low=-0.52, ci_high=-0.48), 0.2)[0],
        judge("bound_slope", -1.0, _cond(ci_low=-1.6, ci_high=-0.4), 0.2)[0],
        judge("bound_slope", -1.0, _cond(fidelity=FAIL), 0.2)[0],
        judge("bound_slope", -1.0, _cond(measured=NAN, fidelity=PASS), 0.2)[0],
    }
    assert words == set(VOCABULARY)


def test_a_failed_fidelity_gate_turns_holds_into_not_comparable():
    good = _cond(measured=50.0, ci_low=40.0, ci_high=70.0)  # toy: 50% less attack success
    assert judge("improvement", 30.0, good)[0] == REPRODUCED
    word, reason = judge("improvement", 30.0, _cond(measured=50.0, ci_low=40.0, ci_high=70.0,
                                                    fidelity=FAIL))  # fmt: skip
    assert word == NOT_COMPARABLE and "W2 3.1" in reason


def test_an_interval_from_fewer_than_five_seeds_never_decides():
    two_seeds = _cond(ci_low=NAN, ci_high=NAN, ci_over="2 seed(s): no interval", n_seeds=2)
    word, reason = judge("bound_slope", -1.0, two_seeds, 0.2)
    assert word == INCONCLUSIVE and "indicative: reproduced" in reason


def test_a_rate_that_ran_without_a_readable_tail_is_inconclusive_not_unmeasurable():
    c = _cond(measured=NAN, ran=True, reason="only 2 usable points (the tail needs 3)")
    assert judge("bound_slope", -1.0, c, 0.2) == (INCONCLUSIVE, c.reason)
    assert judge("bound_slope", -1.0, _cond(measured=NAN), 0.2)[0] == UNMEASURABLE


def test_a_rate_outside_its_regime_is_inconclusive():
    c = _cond(regime={"passed": False, "grid": "4 to 128"})
    word, reason = judge("bound_slope", -1.0, c, 0.2)
    assert word == INCONCLUSIVE and "not in the asymptotic regime over 4 to 128" in reason


def test_an_upper_bound_estimate_cannot_refute_a_bound():
    c = _cond(measured=0.5, ci_low=0.45, ci_high=0.55, upper_bound=True)
    assert judge("bound_exponent", 1.0, c, 0.2)[0] == INCONCLUSIVE
    assert judge("bound_exponent", 1.0, _cond(measured=0.5, ci_low=0.45, ci_high=0.55),
                 0.2)[0] == FAILS  # fmt: skip


def test_bounds_confirm_or_refute_only_in_their_direction_and_groups_count_once():
    upper = _cond(measured=1.0, ci_low=0.95, ci_high=1.05, upper_bound=True, group="law/kind")
    lower = _cond(measured=1.0, ci_low=0.95, ci_high=1.05, lower_bound=True, group="law/kind")
    assert judge("bound_exponent", 1.0, upper, 0.2)[0] == REPRODUCED
    assert judge("bound_exponent", 1.0, lower, 0.2)[0] == INCONCLUSIVE
    law = _cond(measured=0.5, ci_low=0.45, ci_high=0.55, group="sep/kind")
    assert judge("bound_exponent", 1.0, law, 0.2)[0] == FAILS
    for c in (upper, lower, law):
        c.verdict = judge("bound_exponent", 1.0, c, 0.2)[0]
    word, tally = summary_verdict([upper, lower, law])
    assert word == FAILS and tally.endswith("of 2")  # two groups, not three estimators
    assert summary_verdict([upper, lower]) == (REPRODUCED, "1 reproduced of 1")


def test_summary_comes_from_judged_conditions_only():
    a = _cond(verdict=REPRODUCED)
    b = _cond(verdict=REPRODUCED)
    ctx = _cond(verdict=FAILS, role=CONTEXT)
    assert summary_verdict([a, b, ctx])[0] == REPRODUCED
    assert summary_verdict([a, _cond(verdict=FAILS)])[0] == FAILS
    assert summary_verdict([a, _cond(verdict=INCONCLUSIVE)])[0] == INCONCLUSIVE
    assert summary_verdict([_cond(verdict=NOT_COMPARABLE)])[0] == NOT_COMPARABLE
    assert summary_verdict([ctx])[0] == UNMEASURABLE


def test_gates():
    assert points_gate(0.3, 0.25, {"max_floor_ratio": 1.5})["passed"]
    g = points_gate(3.1, 0.31, {"max_floor_ratio": 1.5})
    assert not g["passed"] and g["numbers"]["ratio"] == pytest.approx(10.0)
    fd = {"mfg": 1500.0, "ddpm": 11.0, "flow_matching": 12.0}
    g = images_gate(fd, ["mfg", "flow_matching"], ["ddpm", "flow_matching"],
                    {"max_best_ratio": 2.0})  # fmt: skip
    assert not g["passed"] and "mfg 1.5e+03" in g["summary"]
    assert images_gate({"a": 12.0, "b": 11.0}, ["a", "b"], ["b"], {"max_best_ratio": 2.0})["passed"]
    assert not accuracy_gate({"mfg": 0.13, "fm": 0.99}, {"min_clean_accuracy": 0.8})["passed"]


class _Store(dict):
    def __init__(self, success, accuracy):
        import xarray as xr

        n = 100
        pred = np.zeros((2, n), int)
        pred[1, : int(success * n)] = 1
        super().__init__()
        self.ds = xr.Dataset(
            {"pred": (("eps", "sample"), pred), "target": (("sample",), np.ones(n, int)),
             "source_accuracy": (("eps",), [accuracy, 0.0])},
            coords={"eps": [0.0, 0.5]},
        )  # fmt: skip

    def __getitem__(self, k):
        return self.ds[k]

    @property
    def sizes(self):
        return self.ds.sizes


def test_injection_row_is_not_comparable_when_the_attacked_model_has_not_learned():
    class Ctx:
        moderate_eps = 0.5
        settings = Settings(0.2, 5, {"injection": {"min_clean_accuracy": 0.8}})
        injection = {"mfg": [_Store(0.2, 0.13)], "fm": [_Store(0.5, 0.99)]}

    (c,) = injection_reduction({"method": "mfg", "baseline": "fm"}, Ctx)
    assert c.measured == pytest.approx(60.0) and np.isnan(c.ci_low)  # one seed: no interval
    word, _ = judge("improvement", 30.0, c)
    assert word == NOT_COMPARABLE and c.fidelity["numbers"]["mfg"] == pytest.approx(0.13)


def test_every_claim_of_the_ledger_file_has_a_measurement_and_a_rule():
    claims, settings = load_claims(plan.CLAIMS_FILE)
    ids = [c["id"] for c in claims]
    assert len(ids) == len(set(ids))
    assert set(settings.fidelity) == {"points", "images", "injection"}
    for c in claims:
        assert c["measure"]["kind"] in MEASURES, c["id"]
        interval_verdict(c["rule"], c["claimed"], 0.0, 0.0)  # a known rule


def test_no_observation_is_counted_under_two_claims():
    claims = yaml.safe_load(open(plan.CLAIMS_FILE))["claims"]
    seen = {}
    for c in claims:
        m = c["measure"]
        if m["kind"] == "eps_exponent":
            for p in m["perturbations"]:
                assert p not in seen, f"{p} exponent under {seen.get(p)} and {c['id']}"
                seen[p] = c["id"]


def test_the_claims_file_must_name_its_fidelity_bars(tmp_path):
    f = tmp_path / "claims.yaml"
    f.write_text("claims: []\n")
    with pytest.raises(ValueError, match="fidelity"):
        load_claims(str(f))


def test_markdown_has_the_vocabulary_a_summary_row_and_conditions_beneath():
    regime = {"passed": True, "tail": "512-2048", "grid": "4 to 2048",
              "local_slopes": "512-1024: -1.01; 1024-2048: -1.00"}  # fmt: skip
    cond = _cond(verdict=REPRODUCED, reason="ok", regime=regime)
    row = {"id": "theorem2_rate_gaussian", "source": "Thm 2", "statement": "O(1/N)",
           "claimed": -1.0, "unit": "slope", "rule": "bound_slope", "verdict": REPRODUCED,
           "reason": "1 reproduced of 1", "conditions": [cond]}  # fmt: skip
    md = render_markdown([row], "toy", Settings(0.2, 5, {"points": {"max_floor_ratio": 1.5}}), 5)
    for word in VOCABULARY:
        assert f"**{word}**" in md
    assert md.index("## Summary") < md.index("theorem2_rate_gaussian")
    assert "-1.01, -1.00" in md and "↳ toy" in md
    assert isinstance(pd.DataFrame([row]), pd.DataFrame)
