"""The claims job: every claim's conditions measured and judged, one section per claims file,
written as ``claims.json`` and ``claims.md``."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from mfgstudy.rates import MIN_SEEDS
from mfgstudy.report.claims.catalogue import GATE_KINDS, MEASURES
from mfgstudy.report.claims.claims_files import check_claims_files, load_claims
from mfgstudy.report.claims.context import Context
from mfgstudy.report.claims.gates import GATE_RULES
from mfgstudy.report.claims.markdown import render_markdown
from mfgstudy.report.claims.readings import choose_reading
from mfgstudy.report.claims.verdicts import (
    CONTEXT,
    JUDGED,
    RULES_TEXT,
    VOCABULARY,
    Condition,
    as_number,
    deciding_condition,
    judge,
    summary_verdict,
)
from mfgstudy.store import atomic_path

log = logging.getLogger(__name__)


def measure_conditions(c: dict, ctx) -> list[Condition]:
    """A claim's conditions. Where the claims file has a reading rule and the claim's measure
    names the printed reading (``method``), the measure runs on the chosen reading (judged) and
    on the printed one (context rows with their own verdicts)."""
    m, fn = c["measure"], MEASURES[c["measure"]["kind"]]
    reading = getattr(ctx, "reading", None)
    if reading is None or m.get("method") != reading.printed:
        return fn(m, ctx)
    out = fn({**m, "method": reading.chosen}, ctx)
    if reading.chosen != reading.printed:
        for k in fn(m, ctx):
            k.role, k.label = CONTEXT, f"printed reading: {k.label}"
            out.append(k)
    return out


def paper_table_note(c: dict) -> str:
    """Where a claim carries the numbers of the paper's own table (``paper_table``: method,
    baseline), the value they imply in the claim's unit beside the stated one: a paper that
    contradicts itself is shown, the stated claim is kept."""
    t = c.get("paper_table")
    if not t:
        return ""
    a, b = float(t["method"]), float(t["baseline"])
    higher = c["measure"].get("higher_is_better", False)
    implied = 100.0 * ((a - b) / b if higher else (b - a) / b)
    off = abs(implied - float(c["claimed"])) > 0.05 * max(1.0, abs(float(c["claimed"])))
    text = (f"the paper's table ({a:g} vs {b:g}) gives {implied:.3g}; its text states "
            f"{float(c['claimed']):g}")  # fmt: skip
    return text + (": the paper is inconsistent here (the stated claim is judged)" if off else "")


def decided_elsewhere(c: dict, ctx) -> str:
    """Where a companion study's claims are decided by another config (``report.studies.<study>
    .decided_by``: this study's models are a smoke test), the note that names it."""
    study = c["measure"].get("study")
    other = study and ctx.studies.get(study, {}).get("decided_by")
    if not other:
        return ""
    return (
        f"this study's models are a smoke test of the pipeline; the claim is decided by "
        f"`make study CONFIG={other}`, whose ledger judges it"
    )


def _rule_text(rule: str, tol: float) -> str:
    bounded = "bound" in rule or rule in ("at_most", "at_least")
    return rule + (f" (tolerance {tol:g})" if bounded else "")


def ledger(claims: list[dict], ctx: Context, study: str) -> list[dict]:
    rows = []
    for c in claims:
        tol = float(c.get("tolerance", ctx.settings.tolerance))
        conditions = measure_conditions(c, ctx)
        for cond in conditions:
            cond.verdict, cond.reason = judge(c["rule"], c.get("claimed", np.nan), cond, tol)
            cond.scale = f"study {study}: {cond.scale}" if cond.scale else f"study {study}"
        word, tally = summary_verdict(conditions)
        judged = [k for k in conditions if k.role == JUDGED]
        decided_by = deciding_condition(conditions, word)
        seeds = [k.n_seeds for k in judged if isinstance(k.n_seeds, int | np.integer)]
        rows.append({
            "id": c["id"], "paper": ctx.settings.paper, "source": c["source"],
            "statement": c["statement"], "claimed": c.get("claimed"), "unit": c["unit"],
            "rule": _rule_text(c["rule"], tol), "verdict": word, "reason": tally,
            "n_seeds": ("exact" if judged and not seeds else int(min(seeds)) if seeds else 0),
            "regime": [k.regime for k in judged if k.regime is not None] or None,
            "fidelity": [k.fidelity for k in conditions if k.fidelity is not None] or None,
            "evidence": MEASURES[c["measure"]["kind"]].evidence_of(c["measure"]),
            "gate": GATE_KINDS.get(c["measure"]["kind"], ""),
            "note": paper_table_note(c) or decided_elsewhere(c, ctx),
            "decided_by": decided_by,  # index into conditions (None: no judged condition)
            "conditions": conditions,
        })  # fmt: skip
    return rows


def as_json(rows: list[dict]) -> list[dict]:
    """The ledger's rows with their conditions as plain dicts (NaN as null)."""

    def plain(d: dict) -> dict:
        return {
            k: (as_number(v) if isinstance(v, float | np.floating) else v) for k, v in d.items()
        }

    return [{**r, "conditions": [{"id": r["id"], **plain(asdict(k))} for k in r["conditions"]]}
            for r in rows]  # fmt: skip


REPO_ROOT = Path(__file__).resolve().parents[4]  # src/mfgstudy/report/claims/ledger.py -> ..


def recorded_path(path: str) -> str:
    """A claims file as claims.json names it: relative to the repository when it lies in it
    (``workflow/claims/<name>.yaml``), else its absolute path."""
    p = Path(path).resolve()
    return p.relative_to(REPO_ROOT).as_posix() if p.is_relative_to(REPO_ROOT) else str(p)


def claims_job(spec: dict, claims_files: list[str], md: str, json_out: str, **inputs) -> None:
    """One ledger over every claims file (one per paper): a section per paper, in file order;
    ``inputs``: what the measurements read, by the names of ``inputs.INPUTS`` (paths)."""
    t0 = time.time()
    min_seeds = int(spec.get("rates", {}).get("min_seeds", MIN_SEEDS))
    if isinstance(claims_files, str):
        claims_files = [claims_files]
    check_claims_files(claims_files)  # the Snakefile checked them too, before any job
    papers = [(f, *load_claims(f, min_seeds)) for f in claims_files]
    ctx = Context(inputs, spec, papers[0][2])
    sections, rows = [], []
    for _, claims, settings in papers:
        ctx.settings = settings
        ctx.reading = choose_reading(settings.reading, ctx.mfg_readings, ctx.mfg_equilibrium)
        section = ledger(claims, ctx, spec["study"])
        sections.append((settings, section, ctx.reading))
        rows += section
    doc = {"study": spec["study"], "claims_files": [recorded_path(f) for f in claims_files],
           "vocabulary": VOCABULARY, "rules": RULES_TEXT, "min_seeds": min_seeds,
           "gate_rules": GATE_RULES,
           "papers": [{"paper": st.paper, "claims_file": recorded_path(f),
                       "tolerance": st.tolerance, "fidelity_bars": st.fidelity,
                       "reading": asdict(rd) if rd else None}
                      for (f, _, st), (_, _, rd) in zip(papers, sections, strict=True)],
           "claims": as_json(rows)}  # fmt: skip
    with atomic_path(json_out) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, default=_json_default))
    with atomic_path(md) as tmp:
        tmp.write_text(render_markdown(sections, spec["study"], min_seeds))
    counts = pd.Series([r["verdict"] for r in rows]).value_counts().to_dict()
    log.info("claims ledger: %d claims of %d papers %s in %.1fs", len(rows), len(papers), counts,
             time.time() - t0)  # fmt: skip


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
