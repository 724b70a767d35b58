"""The study's report: one self-contained HTML file that opens on the claims ledger.

The first screen is the ledger at a glance: one line per claim (its id, statement, the claimed
value beside the measured one, the verdict coloured), each line linking to the tables and
figures its measurement rests on (each measurement's ``evidence``, registered with it in
``mfgstudy.report.claims.measures``) and to its conditions. Below come every table and figure
of the study, by section, each with its caption: a figure's from ``workflow/report/<caption>.rst``
(the captions ``snakemake --report`` shows too, rendered with the study's config), a table's
from its own Markdown file (``common.write_table``). Figures are embedded (base64 PNG), so the
file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from mfgstudy.store import atomic_path

# verdict -> (text colour, background): the ledger's colours, also its legend
VERDICT_COLOURS = {
    "reproduced": ("#116329", "#dafbe1"),
    "does not hold": ("#a40e26", "#ffebe9"),
    "inconclusive": ("#7d4e00", "#fff8c5"),
    "not comparable": ("#6639ba", "#fbefff"),
    "not measurable at this scale": ("#424a53", "#eaeef2"),
    "shown, not judged": ("#0550ae", "#ddf4ff"),
}
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 16px;
       color: #1f2328; }
header h1 { font-size: 20px; margin: 10px 0 2px; }
header p { margin: 2px 0 6px; color: #59636e; }
table { border-collapse: collapse; }
table.ledger { width: 100%; table-layout: fixed; font-size: 13px; }
table.ledger th, table.ledger td { padding: 2px 6px; border-bottom: 1px solid #d1d9e0;
    white-space: nowrap; overflow: hidden; text-overflow: ellipsis; text-align: left; }
table.ledger th { background: #f6f8fa; position: sticky; top: 0; }
tr.paper td { background: #f6f8fa; font-weight: 600; }
.verdict { display: inline-block; padding: 0 6px; border-radius: 10px; font-weight: 600; }
.legend span { margin-right: 8px; }
table.data { font-size: 12px; margin: 6px 0; }
table.data th, table.data td { padding: 1px 6px; border: 1px solid #d1d9e0; }
figure { margin: 12px 0 24px; }
figure img { max-width: 100%; border: 1px solid #d1d9e0; }
figcaption, .caption { color: #2f3337; max-width: 1000px; }
section.item { margin: 12px 0 24px; }
h2 { border-bottom: 1px solid #d1d9e0; margin-top: 32px; }
details { margin: 4px 0; }
"""


def html_report(spec: dict, claims_path: str, out: str) -> None:
    """Write the report. ``spec``: ``study``, ``config`` (the study's, for the captions) and
    ``items`` (each: ``path`` of a PNG figure or a CSV table whose Markdown sibling holds its
    title and caption, ``caption`` (an .rst file, for figures), ``section``, ``verb``)."""
    doc = json.loads(Path(claims_path).read_text())
    items = [dict(item, stem=Path(item["path"]).stem) for item in spec["items"]]
    present = {i["stem"] for i in items}
    body = [
        _header(spec["study"], doc["claims"]),
        _ledger(doc["claims"], present),
        _readings(doc.get("papers", [])),  # below the ledger: the first screen is the claims
        *_sections(items, spec["config"]),
        _claim_details(doc["claims"], present),
        _vocabulary(doc.get("vocabulary", {}), doc.get("min_seeds"), doc.get("gate_rules", {})),
    ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Claims ledger: study {html.escape(spec['study'])}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    with atomic_path(out) as tmp:
        tmp.write_text(page)


# --- the first screen: the ledger -------------------------------------------------------------
def verdict_badge(verdict: str) -> str:
    fg, bg = VERDICT_COLOURS.get(verdict, ("#1f2328", "#ffffff"))
    return (f"<span class='verdict' data-verdict='{html.escape(verdict)}' "
            f"style='color:{fg};background:{bg}'>{html.escape(verdict)}</span>")  # fmt: skip


def _header(study: str, claims: list[dict]) -> str:
    counts = pd.Series([c["verdict"] for c in claims]).value_counts()
    legend = " ".join(f"<span>{verdict_badge(v)} {int(counts.get(v, 0))}</span>"
                      for v in VERDICT_COLOURS)  # fmt: skip
    return (
        f"<header><h1>Claims ledger — study <code>{html.escape(study)}</code></h1>"
        f"<p>{len(claims)} claims of three papers beside what this workflow measured at this "
        "study's scale; every verdict follows the rules <a href='#verdicts'>printed at the "
        "end</a>. Click a claim for its conditions, an evidence link for the table or figure "
        "it rests on.</p>"
        f"<p class='legend'>{legend}</p></header>"
    )


def _readings(papers: list[dict]) -> str:
    """Which reading of Algorithm 1 each paper's comparative claims are judged under, and why."""
    out = []
    for p in papers:
        r = p.get("reading")
        if not r:
            continue
        cands = "; ".join(f"{c['method']}: {'qualifies' if c['qualifies'] else 'does not'} "
                          f"({c['why']})" for c in r["candidates"])  # fmt: skip
        out.append(f"<p><b>MFG-Diffusion is judged under the reading <code>"
                   f"{html.escape(r['chosen'])}</code></b> (printed: <code>"
                   f"{html.escape(r['printed'])}</code>; its rows are context). Rule, fixed "
                   f"before the runs: {html.escape(r['rule'])}. Candidates: "
                   f"{html.escape(cands)}.</p>")  # fmt: skip
    return "\n".join(out)


def format_value(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return f"{v:.3g}" if isinstance(v, int | float) else str(v)


def measured_text(claim: dict) -> tuple[str, str]:
    """(the deciding condition's "m [lo, hi]" (``decided_by``: the judged condition whose
    verdict is the claim's; else the first judged one), "+k more" where there are more; the
    conditions' labels, for the cell's tooltip)."""
    judged = [k for k in claim["conditions"] if k.get("role") == "judged"] or claim["conditions"]
    if not judged:
        return "—", ""
    i = claim.get("decided_by")
    k = claim["conditions"][i] if i is not None else judged[0]
    text = format_value(k.get("measured"))
    if k.get("ci_low") is not None and k.get("ci_high") is not None:
        text += f" [{format_value(k['ci_low'])}, {format_value(k['ci_high'])}]"
    if len(judged) > 1:
        text += f" (+{len(judged) - 1} more)"
    labels = "; ".join(str(j.get("label", "")) for j in judged)
    return text, f"decided by {k.get('label', '')}: {text} (judged: {labels})"


def _ledger(claims: list[dict], present: set[str]) -> str:
    rows, paper = [], None
    for c in claims:
        if c["paper"] != paper:
            paper = c["paper"]
            rows.append(f"<tr class='paper'><td colspan='6'>{html.escape(paper)}</td></tr>")
        links = [f"<a href='#{s}'>{s}</a>" for s in c.get("evidence", []) if s in present]
        links.append(f"<a href='#claim-{html.escape(c['id'])}'>conditions</a>")
        claimed = f"{format_value(c['claimed'])} {c['unit']}"
        measured, measured_title = measured_text(c)
        rows.append(
            f"<tr class='claim' id='row-{html.escape(c['id'])}'>"
            f"<td><a href='#claim-{html.escape(c['id'])}' class='claim-id'>"
            f"{html.escape(c['id'])}</a></td>"
            f"<td title='{html.escape(c['statement'])}'>{html.escape(c['statement'])}</td>"
            f"<td title='{html.escape(claimed)}'>{html.escape(claimed)}</td>"
            f"<td title='{html.escape(measured_title)}'>{html.escape(measured)}</td>"
            f"<td>{verdict_badge(c['verdict'])}</td><td>{' · '.join(links)}</td></tr>"
        )
    return (
        "<table class='ledger' id='ledger'><colgroup><col style='width:17%'>"
        "<col style='width:24%'><col style='width:14%'><col style='width:14%'>"
        "<col style='width:16%'><col style='width:15%'></colgroup>"
        "<thead><tr><th>claim</th><th>statement</th><th>claimed</th><th>measured</th>"
        "<th>verdict</th><th>evidence</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )  # fmt: skip


# --- the tables and figures, with their captions ------------------------------------------------
def render_caption(rst_path: str, config: dict, verb: str | None) -> str:
    """An .rst caption as ``snakemake --report`` renders it: Jinja2 over the study's config
    (and the job's CLI verb), then reStructuredText to HTML."""
    import jinja2
    from docutils.core import publish_parts

    context = SimpleNamespace(config=config, params=SimpleNamespace(verb=verb), wildcards={})
    text = jinja2.Template(Path(rst_path).read_text()).render(snakemake=context)
    settings = {"report_level": 5, "halt_level": 5, "raw_enabled": False,
                "file_insertion_enabled": False}  # fmt: skip
    return safe_links(publish_parts(text, writer="html5", settings_overrides=settings)["body"])


SAFE_SCHEMES = frozenset({"", "http", "https", "mailto"})  # "": a fragment or a relative path
_LINK = re.compile(r"""\b(href|src)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def safe_links(body: str) -> str:
    """``body`` with every ``href``/``src`` whose scheme is not in ``SAFE_SCHEMES`` (a
    ``javascript:`` or ``data:`` link written in a caption) replaced by ``#``: a caption is text
    from the repository, and the report is opened in a browser. The scheme is read as a browser
    reads it: after HTML unescaping, with ASCII whitespace and control characters removed."""

    def scrub(m: re.Match) -> str:
        url = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(m.group(3)))
        scheme = url.split(":", 1)[0].lower() if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url) else ""
        return m.group(0) if scheme in SAFE_SCHEMES else f"{m.group(1)}={m.group(2)}#{m.group(2)}"

    return _LINK.sub(scrub, body)


def table_parts(md_path: Path) -> tuple[str, str]:
    """(title, caption) of a table's Markdown file (``common.write_table``: "# title", a blank
    line, the caption, then the table)."""
    lines = md_path.read_text().splitlines()
    title = lines[0].lstrip("# ").strip() if lines else md_path.stem
    caption = []
    for line in lines[1:]:
        if line.startswith("|"):
            break
        caption.append(line)
    return title, " ".join(s.strip() for s in caption if s.strip())


def _inline(text: str) -> str:
    """Escape; `code` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _item(item: dict, config: dict) -> str:
    path, stem = Path(item["path"]), item["stem"]
    if path.suffix == ".png":
        data = base64.b64encode(path.read_bytes()).decode()
        caption = render_caption(item["caption"], config, item.get("verb"))
        return (f"<figure id='{stem}'><img alt='{stem}' src='data:image/png;base64,{data}'>"
                f"<figcaption><b>{stem}</b> {caption}</figcaption></figure>")  # fmt: skip
    title, caption = table_parts(path.with_suffix(".md"))
    table = pd.read_csv(path).to_html(index=False, classes="data", border=0, na_rep="—",
                                      float_format=lambda v: f"{v:.4g}")  # fmt: skip
    return (f"<section class='item' id='{stem}'><h3>{html.escape(title)} "
            f"<small>({stem})</small></h3><p class='caption'>{_inline(caption)}</p>"
            f"{table}</section>")  # fmt: skip


def _sections(items: list[dict], config: dict) -> list[str]:
    out = []
    for section in sorted({i["section"] for i in items}):
        out.append(f"<h2>{html.escape(section)}</h2>")
        out += [_item(i, config) for i in items if i["section"] == section]
    return out


# --- each claim's conditions ---------------------------------------------------------------------
CONDITION_COLUMNS = ["label", "role", "measured", "ci_low", "ci_high", "ci_over", "n_seeds",
                     "scale", "verdict", "reason"]  # fmt: skip


def _claim_details(claims: list[dict], present: set[str]) -> str:
    out = ["<h2>Each claim's conditions</h2>"]
    for c in claims:
        rows = pd.DataFrame(c["conditions"]).reindex(columns=CONDITION_COLUMNS)
        for col in ("label", "role", "ci_over", "scale", "reason"):
            rows[col] = rows[col].map(lambda v: html.escape(v) if isinstance(v, str) else v)
        rows["verdict"] = [verdict_badge(str(v)) for v in rows["verdict"]]
        table = rows.to_html(index=False, classes="data", border=0, na_rep="—", escape=False,
                             formatters={k: format_value for k in ("measured", "ci_low",
                                                                   "ci_high")})  # fmt: skip
        links = [f"<a href='#{s}'>{s}</a>" for s in c.get("evidence", []) if s in present]
        out.append(
            f"<section class='item' id='claim-{html.escape(c['id'])}'>"
            f"<h3>{html.escape(c['id'])} {verdict_badge(c['verdict'])}</h3>"
            f"<p>{html.escape(c['statement'])} <i>({html.escape(c['source'])})</i>. Claimed: "
            f"{html.escape(format_value(c['claimed']))} {html.escape(c['unit'])}; rule: "
            f"{html.escape(c['rule'])}"
            + (f" (gate: {html.escape(c['gate'])})" if c.get("gate") else "")
            + f"; {html.escape(str(c['reason']))}. "
            + (f"<b>Note</b>: {html.escape(c['note'])}. " if c.get("note") else "")
            + "Evidence: "
            f"{' · '.join(links) or 'the conditions below'}. "
            "<a href='#ledger'>back to the ledger</a></p>"
            f"{table}</section>"
        )
    return "\n".join(out)


def _vocabulary(vocabulary: dict, min_seeds, gate_rules: dict | None = None) -> str:
    items = "".join(f"<li>{verdict_badge(v)} {html.escape(text)}</li>"
                    for v, text in vocabulary.items())  # fmt: skip
    seeds = f" An interval that decides a verdict needs at least {min_seeds} seeds, an exact " \
        "closed form, or a jackknife over sample blocks." if min_seeds else ""  # fmt: skip
    gates = "".join(f"<li>a {html.escape(k)}: {html.escape(v)}</li>"
                    for k, v in (gate_rules or {}).items())  # fmt: skip
    gates = f"<p>Fidelity gates by claim kind:</p><ul>{gates}</ul>" if gates else ""
    return f"<h2 id='verdicts'>Verdicts</h2><ul>{items}</ul><p>{seeds}</p>{gates}"
