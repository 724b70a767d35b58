"""How to cite the workflow and the papers it re-runs (issue 26): a valid CITATION.cff whose
references are the three papers, each claims file (the ledger's and the report's section heading)
citing its paper by title, authors and where to find it, a licence, and no path outside the
repository anywhere in it."""

import re
import subprocess
from pathlib import Path

import yaml

from mfgstudy.pipeline.paths import CLAIMS_FILES
from mfgstudy.report.claims.claims_files import load_claims

ROOT = Path(__file__).resolve().parents[2]
CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
# the claims file of each reference, by the reference's title
CLAIMS = {
    "Mean-Field Game Equilibria in Score-Based Diffusion Models": "mfg_paper.yaml",
    "A Mean-Field Games Laboratory for Generative Modeling": "mfg_laboratory.yaml",
    "Generative Diffusion Models from a PDE Perspective": "pde_perspective.yaml",
}


def _names(person: dict) -> str:
    return person.get("family-names") or person["name"]


def test_citation_cff_has_the_required_keys_and_the_licence():
    assert CFF["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "type", "license"):
        assert CFF[key], key
    assert CFF["type"] == "software" and all(_names(a) for a in CFF["authors"])
    licence = (ROOT / "LICENSE").read_text()
    assert CFF["license"] == "MIT" and licence.startswith("MIT License")
    readme = (ROOT / "README.md").read_text()
    assert "## Citing" in readme and "CITATION.cff" in readme and "LICENSE" in readme


def test_the_references_are_the_three_papers_each_cited_by_its_claims_file():
    refs = CFF["references"]
    assert len(refs) == 3
    by_file = {}
    for ref in refs:
        assert ref["type"] and ref["title"] and ref["authors"], ref
        (short,) = [t for t in CLAIMS if ref["title"].startswith(t)]
        by_file[CLAIMS[short]] = ref
    assert set(by_file) == set(CLAIMS.values())
    for f in CLAIMS_FILES:
        ref = by_file[Path(f).name]
        _, settings = load_claims(f)
        paper = settings.paper
        assert paper.startswith(ref["title"]), (f, paper)  # the title
        for person in ref["authors"]:  # the authors
            assert _names(person) in paper, (f, person)
        for ident in ref.get("identifiers", []):  # where to find it, where it is known
            assert ident["value"] in paper, (f, ident)
        where = ("arXiv:", "preprint", "under double-blind review")
        assert any(w in paper for w in where), paper


def test_no_path_outside_the_repository_remains():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    needles = ("../" + "shared", "shared/" + "papers")  # split: this file would match itself
    hits = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in (".png", ".pdf", ".gz"):
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {n}" for n in needles if n in text]
    assert hits == []
    assert not re.search(r"\.\./shared", (ROOT / "README.md").read_text())
