"""The ledger as Markdown (``claims.md``): one line per paper that answers its headline, one row
per claim, its conditions beneath, the verdict rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mfgstudy.report.claims.gates import GATE_RULES
from mfgstudy.report.claims.readings import Reading
from mfgstudy.report.claims.verdicts import (
    FAILS,
    INCONCLUSIVE,
    JUDGED,
    NOT_COMPARABLE,
    QUALITATIVE,
    REPRODUCED,
    UNMEASURABLE,
    VOCABULARY,
    Condition,
    Settings,
    fmt,
)


def _measured(k: Condition) -> str:
    if not np.isfinite(k.measured):
        return "–"
    if np.isfinite(k.ci_low) and np.isfinite(k.ci_high) and k.ci_low != k.ci_high:
        return f"{fmt(k.measured)} [{fmt(k.ci_low)}, {fmt(k.ci_high)}]"
    return fmt(k.measured)


def _regime_cell(k: Condition) -> str:
    if k.regime is None:
        return ""
    local = [p.split(": ")[-1] for p in str(k.regime["local_slopes"]).split("; ") if p][-3:]
    state = "passed" if k.regime["passed"] else "**failed**"
    test = f" ({k.regime['test']})" if k.regime.get("test") else ""
    return f"{state}{test}; tail {k.regime['tail']}; last local {', '.join(local)}"


def _fidelity_cell(k: Condition) -> str:
    if k.fidelity is None:
        return ""
    return ("pass" if k.fidelity["passed"] else "**fail**") + f": {k.fidelity['summary']}"


def headline(settings: Settings, rows: list[dict], reading: Reading | None = None) -> str:
    """One line built from a paper's verdicts, above its table: which of its claims hold, which
    do not, and which stay open here (and why), under the reading MFG-Diffusion is judged by."""
    by = {}
    for r in rows:
        by.setdefault(r["verdict"], []).append(r["id"])
    parts = [f"{word}: {', '.join(by[word])}" for word in
             (REPRODUCED, FAILS, INCONCLUSIVE, NOT_COMPARABLE, UNMEASURABLE, QUALITATIVE)
             if word in by]  # fmt: skip
    under = (f" MFG-Diffusion's comparative claims are judged under the reading "
             f"`{reading.chosen}` (printed: `{reading.printed}`).") if reading else ""  # fmt: skip
    decided = len(by.get(REPRODUCED, [])) + len(by.get(FAILS, []))
    return (f"**In short: {decided} of {len(rows)} claims decided here.** " + "; ".join(parts)
            + "." + under)  # fmt: skip


def render_markdown(sections: list[tuple[Settings, list[dict], Reading | None]], study: str,
                    min_seeds: int) -> str:  # fmt: skip
    """The ledger: the rules once, then per paper (claims file) its summary table and its claims
    with their conditions."""
    lines = [
        f"# Claims ledger (study `{study}`)", "",
        "Each numbered claim of the papers, the claimed value (from `workflow/claims/`, one file "
        "per paper), what this workflow measured, and a verdict from the rules of "
        "`mfgstudy.report.claims`. A claim that does not hold is a result. The summary row of "
        "each claim is decided by its judged conditions; context rows (e.g. trained models under "
        "an equilibrium theorem, the printed reading of Algorithm 1) have their own verdicts "
        "beneath it.", "",
        "**Verdicts**", "",
    ]  # fmt: skip
    lines += [f"* **{w}**: {rule}." for w, rule in VOCABULARY.items()]
    lines += [
        "", "**Rules**", "",
        "* Intervals are 95% and match the source of randomness; `CI over` says which: across "
        "seeds of trained models a Welch-Satterthwaite interval (a one-sample t for one arm; on "
        "the log scale for ratios and percentages), valid from 2 seeds per arm, its degrees of "
        "freedom stated; within one run whose only randomness is Monte Carlo (the exact "
        "empirical score) a Clopper-Pearson interval of the pooled count; a trained network's "
        "share over its seeds, a t interval whose sd is at least one share's binomial sd; a "
        "jackknife over sample blocks of one large sample; exact for a closed form; a rate "
        "fitted over seeds: "
        f"a jackknife-t over at least {min_seeds} seeds (fewer give no interval and at most an "
        "indication). Several intervals combined into one verdict are Bonferroni-corrected.",
        "* Image metrics have a resolution: twice the metric's own spread at this sample size "
        "(a Fréchet distance: the jackknife sd of each compared set, r.m.s. over both arms' "
        "seeds; other metrics: their sd over disjoint sets of as many real training images, in "
        "Table 1's real-data row). A comparison reproduces a claim only where the two means "
        "differ by more than it, and refutes one only where the measured difference lies "
        "further than it from the claimed difference; otherwise the row is inconclusive. The "
        "row names any arm that scores beyond held-out real data.",
        "* Bounds from the right side: a bound claim (W2 <= K eps^a, a rate O(N^c)) is confirmed "
        "only by an upper bound or an exact value, refuted only by a lower bound or an exact "
        "value; an estimate with no bias bound (the law-level MW2) is context.",
        "* Rates are judged on their tail: points below their estimator's floor, or moved by "
        "more than `max_refinement_change` at 2N steps (or on a grid twice as fine), are "
        "excluded; the regime test holds the drift of the last two local slopes to its own "
        "jackknife standard error, and to `regime_tol_exact` for a closed form.",
        *[f"* Fidelity gate of a {kind}: {text}." for kind, text in GATE_RULES.items()],
        "* Which reading of Algorithm 1 is MFG-Diffusion is decided before the runs by the "
        "paper's claims file (`reading:`), from closed forms only; its comparative claims are "
        "judged under it, the printed reading's rows are context.", "",
        "**Papers**", "",
    ]  # fmt: skip
    for settings, rows, _ in sections:
        counts = pd.Series([r["verdict"] for r in rows]).value_counts()
        tally = ", ".join(f"{n} {w}" for w, n in counts.items()) or "no claims"
        lines.append(f"* {settings.paper}: {len(rows)} claims ({tally})")
    for settings, rows, reading in sections:
        lines += ["", *_paper_section(settings, rows, reading)]
    return "\n".join(lines) + "\n"


def _reading_lines(reading: Reading | None) -> list[str]:
    if reading is None:
        return []
    lines = [f"**MFG-Diffusion is judged under the reading `{reading.chosen}`** (printed: "
             f"`{reading.printed}`). Rule, fixed before the runs: {reading.rule}.", "",
             "| candidate | qualifies | W2 of the exact equilibrium output to the data | "
             "switches changed from the printed | why |", "|---|---|---|---|---|"]  # fmt: skip
    for c in reading.candidates:
        lines.append(f"| {c['method']} | {'yes' if c['qualifies'] else 'no'} | "
                     f"{fmt(c['w2_to_data'])} | {', '.join(c['changed']) or '-'} | "
                     f"{c['why']} |")  # fmt: skip
    return [*lines, ""]


def _paper_section(settings: Settings, rows: list[dict], reading: Reading | None = None
                   ) -> list[str]:  # fmt: skip
    bars = "; ".join(f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items())
                     for k, v in settings.fidelity.items()) or "none"  # fmt: skip
    lines = [
        f"## {settings.paper}", "",
        f"Exponent tolerance {settings.tolerance:g} (a claim may state its own). Fidelity bars: "
        f"{bars}.", "",
        headline(settings, rows, reading), "",
        *_reading_lines(reading),
        "### Summary", "",
        "| claim | statement | claimed | verdict | decided by: measured [95% CI] | conditions |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        note = f" *Note: {_md(r['note'])}.*" if r.get("note") else ""
        i = r.get("decided_by")
        by = "" if i is None else f"{r['conditions'][i].label}: {_measured(r['conditions'][i])}"
        lines.append(f"| [{r['id']}](#{r['id']}) | {_md(r['statement'])}{note} | "
                     f"{_claimed(r)} ({_md(r['unit'])}) | **{r['verdict']}** | {_md(by)} | "
                     f"{r['reason']} |")  # fmt: skip
    lines += ["", "### Claims and their conditions", "",
              "| claim / condition | claimed | measured [95% CI] | CI over | seeds | regime | "
              "fidelity | scale | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        anchor = f'<a id="{r["id"]}"></a>'
        gate = f"; gate: {r['gate']}" if r.get("gate") else ""
        lines.append(
            f"| {anchor}**{r['id']}** ({_md(r['source'])}) | "
            f"{_claimed(r)} | | | | | | {r['rule']}{gate} | **{r['verdict']}** |"
        )
        for k in r["conditions"]:
            role = "" if k.role == JUDGED else " (context)"
            cells = [
                f"&nbsp;&nbsp;↳ {k.label}{role}",
                "",
                _measured(k),
                k.ci_over,
                k.n_seeds,
                _regime_cell(k),
                _fidelity_cell(k),
                k.scale,
                f"{k.verdict}: {k.reason}",
            ]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def _claimed(row: dict) -> str:
    """The claimed value as the claims file states it ("–": a qualitative claim has none)."""
    return "–" if row["claimed"] is None else f"{row['claimed']:g}"


def _md(text) -> str:
    """A Markdown table cell: a "|" in the text (|delta| <= eps) must not end the cell."""
    return str(text).replace("|", "\\|")
