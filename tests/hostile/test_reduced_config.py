"""Issue 24: any valid config yields a ledger. A config without a sweep some claim reads (here:
none at all: every table empty, the metrics cube without groups) gives "not measurable at this
scale" for those claims instead of stopping the claims job (it raised KeyError: 'eps' on an
empty Table 2)."""

import json
from pathlib import Path

import pandas as pd
import yaml

from mfgstudy.pipeline import specs_claims
from mfgstudy.report.claims.ledger import claims_job
from mfgstudy.report.claims.verdicts import UNMEASURABLE
from mfgstudy.store import write_groups

TABLES = ("slopes", "exponents", "table2", "exact", "dirac", "concentration", "mfg_equilibrium",
          "cost_perturbation", "proposition6")  # fmt: skip


def test_a_study_with_no_sweep_results_still_gets_a_ledger(tmp_path):
    cfg = yaml.safe_load(Path("config.yaml").read_text())
    csv = {name: tmp_path / f"{name}.csv" for name in TABLES}
    for path in csv.values():
        pd.DataFrame().to_csv(path, index=False)  # a table job's output for an absent sweep
    write_groups({}, tmp_path / "cube.zarr", {}, 0.0)
    md, js = tmp_path / "claims.md", tmp_path / "claims.json"
    claims_job(
        specs_claims.claims_spec(cfg),
        specs_claims.claims_files(cfg),
        str(md),
        str(js),
        cube=str(tmp_path / "cube.zarr"),
        **{k: str(v) for k, v in csv.items()},
    )
    rows = {c["id"]: c for c in json.loads(js.read_text())["claims"]}
    for claim in ("table2_lower_everywhere", "table2_degradation", "theorem2_rate_gaussian"):
        assert rows[claim]["verdict"] == UNMEASURABLE, rows[claim]
    assert "table2_degradation" in md.read_text()
