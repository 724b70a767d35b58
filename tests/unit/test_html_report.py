"""results/report.html on a tiny study: the ledger comes first, each line with its verdict
coloured and links to the items its claim rests on; figures embedded with their rendered
captions, tables with their own titles and captions; hostile strings escaped."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from mfgstudy.pipeline.paths import Files, paths
from mfgstudy.report.claims.catalogue import MEASURES
from mfgstudy.report.html import VERDICT_COLOURS, html_report, measured_text


def _claim(cid, verdict, evidence, measured=0.5, statement="a claim"):
    cond = {"label": "gaussian/ei", "role": "judged", "measured": measured, "ci_low": 0.4,
            "ci_high": 0.6, "ci_over": "jackknife over 5 seeds", "n_seeds": 5, "scale": "s",
            "verdict": verdict, "reason": ""}  # fmt: skip
    return {"id": cid, "paper": "Paper A", "source": "Section 1", "statement": statement,
            "claimed": 1.0, "unit": "tail slope", "rule": "bound_slope", "verdict": verdict,
            "reason": "1 of 1", "evidence": evidence, "conditions": [cond]}  # fmt: skip


@pytest.fixture
def study(tmp_path):
    from PIL import Image

    fig = tmp_path / "fig_a.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(fig)
    table = tmp_path / "table_b.csv"
    pd.DataFrame({"method": ["ddpm"], "w2": [0.123456]}).to_csv(table, index=False)
    table.with_suffix(".md").write_text("# Table B title\n\nWhat `w2` measures.\n\n| a |\n")
    caption = tmp_path / "fig_a.rst"
    caption.write_text('Figure A, study ``{{ snakemake.config["study"] }}``, '
                       '{% if snakemake.params.verb == "x" %}verb x{% endif %}.')  # fmt: skip
    doc = {"vocabulary": {v: f"means {v}" for v in VERDICT_COLOURS}, "min_seeds": 5,
           "claims": [_claim("c1", "reproduced", ["fig_a", "table_b", "missing"]),
                      _claim("c2", "does not hold", ["table_b"],
                             statement="<script>alert(1)</script>")]}  # fmt: skip
    cj = tmp_path / "claims.json"
    cj.write_text(json.dumps(doc))
    items = [dict(path=str(fig), caption=str(caption), section="1. A", verb="x"),
             dict(path=str(table), caption=str(caption), section="2. B", verb=None)]  # fmt: skip
    out = tmp_path / "report.html"
    html_report({"study": "tiny", "config": {"study": "tiny"}, "items": items}, str(cj), str(out))
    return out.read_text()


def test_the_ledger_comes_first_with_coloured_verdicts_and_evidence_links(study):
    ledger, figures = study.index("id='ledger'"), study.index("<figure")
    assert ledger < figures
    rows = re.findall(r"<tr class='claim' id='row-(\w+)'>(.*?)</tr>", study)
    assert [r[0] for r in rows] == ["c1", "c2"]
    c1 = rows[0][1]
    fg, bg = VERDICT_COLOURS["reproduced"]
    assert f"color:{fg};background:{bg}'>reproduced<" in c1
    assert "href='#fig_a'" in c1 and "href='#table_b'" in c1 and "href='#claim-c1'" in c1
    assert "#missing" not in c1  # an item this study did not build is not linked
    assert "0.5 [0.4, 0.6]" in c1 and "1 tail slope" in c1  # measured beside claimed
    assert "id='fig_a'" in study and "id='table_b'" in study and "id='claim-c1'" in study


def test_captions_are_rendered_and_figures_embedded(study):
    assert "data:image/png;base64," in study
    assert "Figure A, study" in study and "tiny" in study and "verb x" in study
    assert "Table B title" in study and "<code>w2</code>" in study and "0.1235" in study


def test_hostile_strings_are_escaped(study):
    assert "<script>" not in study and "&lt;script&gt;" in study


def test_a_claim_without_conditions_reads_as_unmeasured():
    assert measured_text({"conditions": []})[0] == "—"


def test_every_evidence_stem_is_a_file_the_workflow_writes():
    """Each registered measurement links files by stem; each is a table or figure of paths."""
    stems = {f.name for f in paths.values() if isinstance(f, Files)}
    named = set().union(*(m.stems() for m in MEASURES.values()))
    assert named <= stems, named - stems
    # every measurement but the one read from training logs alone rests on a table or figure
    assert [k for k, m in MEASURES.items() if not m.stems()] == ["violation_slope"]
    # Theorem 2's own sweeps link their own table
    n_slope = MEASURES["n_slope"]
    assert n_slope.evidence_of({"sweep": "convergence_gaussian"})[0] == "theorem2_convergence"
    assert n_slope.evidence_of({"sweep": "w2_vs_steps"})[0] == "w2_slopes"
