"""What readers take away from the smoke run: results/report.html in a real browser (headless
Chromium: the ledger's claim ids and verdicts on the first screen, every figure loaded, every
link landing), and the tidy export with the README's pandas snippet reproducing a ledger number.

The browser test keeps a screenshot of the first screen: tests/artifacts/report-first-screen.png.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mfgstudy.report.html import VERDICT_COLOURS
from mfgstudy.store import open_groups

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
VIEWPORT = {"width": 1440, "height": 900}  # a laptop's first screen


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")


@pytest.mark.slow
def test_the_report_opens_on_the_ledger_in_a_real_browser(smoke_run):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    report = Path(smoke_run) / "results" / "report.html"
    claims = json.loads((Path(smoke_run) / "results" / "claims.json").read_text())["claims"]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-first-screen.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(shot))
        seen = page.evaluate(
            """(h) => [...document.querySelectorAll('tr.claim')].map(tr => {
                const id = tr.querySelector('.claim-id'), v = tr.querySelector('.verdict');
                const box = e => e.getBoundingClientRect();
                return {id: id.textContent, verdict: v.textContent,
                        colour: getComputedStyle(v).backgroundColor,
                        on_screen: box(id).bottom <= h && box(v).bottom <= h
                                   && box(v).width > 0 && box(id).width > 0};
            })""",
            VIEWPORT["height"],
        )
        images = page.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
        anchors = page.evaluate(
            """[...document.querySelectorAll("a[href^='#']")]
                 .map(a => a.getAttribute('href').slice(1))
                 .filter(id => !document.getElementById(id))"""
        )
        browser.close()
    print(f"screenshot: {shot}")
    assert [s["id"] for s in seen] == [c["id"] for c in claims]
    assert [s["verdict"] for s in seen] == [c["verdict"] for c in claims]
    off = [s["id"] for s in seen if not s["on_screen"]]
    assert not off, f"claims below the first screen ({VIEWPORT}): {off}"
    backgrounds = {v: bg for v, (_, bg) in VERDICT_COLOURS.items()}
    for s in seen:  # coloured by its verdict (rgb() as computed by the browser)
        r, g, b = (int(backgrounds[s["verdict"]][i : i + 2], 16) for i in (1, 3, 5))
        assert s["colour"] == f"rgb({r}, {g}, {b})", s
    figures = sorted(Path(smoke_run, "results", "figures").glob("*.png"))
    assert len(images) == len(figures) and images, (images, figures)
    assert all(complete and width > 0 for _, complete, width in images), images
    assert not anchors, f"links to nothing: {anchors}"


@pytest.mark.slow
def test_the_export_is_the_cube_one_row_per_value(smoke_run):
    results = Path(smoke_run) / "results"
    parquet = pd.read_parquet(results / "export" / "metrics.parquet")
    csv = pd.read_csv(results / "export" / "metrics.csv")
    assert list(parquet.columns) == list(csv.columns)
    assert list(parquet.columns) == ["sweep", "variable", "dataset", "method", "seed", "sampler",
                                     "grid", "steps", "perturbation", "eps", "value"]  # fmt: skip
    cubes = open_groups(str(results / "metrics.zarr"))
    finite = sum(int(np.isfinite(da.values).sum()) for c in cubes.values()
                 for da in c.data_vars.values())  # fmt: skip
    assert len(parquet) == len(csv) == finite
    np.testing.assert_allclose(parquet["value"], csv["value"], rtol=1e-12)
    keys = ["sweep", "variable", "dataset", "method", "seed", "sampler", "grid", "steps",
            "perturbation", "eps"]  # fmt: skip
    assert not parquet.duplicated(keys).any()  # one row per measurement


def _readme_snippet() -> tuple[str, str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(import pandas as pd  # reproduces: (\w+)\n.*?)```", text, re.S)
    assert block, "README: the pandas snippet is gone"
    code, claim = block.group(1), block.group(2)
    assert len(code.strip().splitlines()) == 5
    return code, claim


@pytest.mark.slow
def test_the_readmes_pandas_snippet_reproduces_a_ledger_number(smoke_run):
    code, claim_id = _readme_snippet()
    res = subprocess.run([sys.executable, "-c", code], cwd=smoke_run, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    claims = json.loads((Path(smoke_run) / "results" / "claims.json").read_text())["claims"]
    claim = next(c for c in claims if c["id"] == claim_id)
    measured = claim["conditions"][0]["measured"]
    assert measured is not None and np.isfinite(measured), claim
    np.testing.assert_allclose(float(res.stdout), measured, rtol=1e-9)
